"""Helpers for the stack's static tests (test_stack_static.py, test_stack_init.py).

- `stackctl(*args)`: runs the built stackctl (env STACKCTL, default next to
  OTELSTACK_COLLECTOR or target/debug/stackctl) and returns the CompletedProcess.
- `init_project(dir, *args)`: `stackctl init DIR ...`, asserting it succeeded.
- `Project`: a rendered stack directory: parsed compose file, collector
  config, datasources and dashboards, whatever the layout.
- `promql_exprs(dashboard)` / `sql_queries(dashboard)`: every query of a
  dashboard, with Grafana's variables substituted so Prometheus/MariaDB can
  parse them.
- `SCHEMA`: the failure store's tables and the columns dashboards may use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
_collector = os.environ.get("OTELSTACK_COLLECTOR")
STACKCTL = Path(os.environ.get("STACKCTL") or (Path(_collector).parent / "stackctl" if _collector else
                                                REPO_ROOT / "target/debug/stackctl"))

CORE = ("collector", "prometheus", "mariadb")
OPTIONAL = ("tempo", "jaeger", "grafana")

# The metric names this stack emits and its dashboards may query. Span
# metrics: pinned names of the spanmetrics connector after Prometheus
# translation (docs: /work/shared/docs/reference.md "Span metrics naming").
SPANMETRICS_NAMES = {
    "traces_span_metrics_calls_total",
    "traces_span_metrics_duration_milliseconds_bucket",
    "traces_span_metrics_duration_milliseconds_sum",
    "traces_span_metrics_duration_milliseconds_count",
}
SPANMETRICS_LABELS = {"service_name", "span_name", "span_kind", "status_code"}

# The failure store's tables (at least these columns; the mysql exporter creates them).
SCHEMA = {
    "failed_spans": {
        "trace_id", "span_id", "parent_span_id", "service_name", "span_name", "span_kind", "start_time",
        "end_time", "duration_ms", "status_code", "status_message", "exception_type", "exception_message",
        "exception_stacktrace", "resource_attributes", "span_attributes", "inserted_at",
    },
    "error_logs": {
        "id", "time", "observed_time", "service_name", "severity_number", "severity_text", "body", "trace_id",
        "span_id", "attributes", "resource_attributes", "inserted_at",
    },
}


def stackctl(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(STACKCTL), *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd)


def init_project(directory: Path, *args) -> subprocess.CompletedProcess:
    r = stackctl("init", directory, *args)
    assert r.returncode == 0, f"stackctl init {directory} {args} failed ({r.returncode}): {r.stderr}"
    return r


class Project:
    """A rendered stack: `root` is what init wrote into; `compose_dir` holds docker-compose.yml."""

    def __init__(self, root: Path):
        self.root = root
        self.clone = (root / "compose" / "docker-compose.yml").exists()
        self.compose_dir = root / "compose" if self.clone else root
        self.grafana_dir = root if self.clone else root / "grafana"

    def path(self, rel: str) -> Path:
        return self.compose_dir / rel

    def yaml(self, rel: str):
        return yaml.safe_load(self.path(rel).read_text())

    @property
    def compose(self) -> dict:
        return self.yaml("docker-compose.yml")

    @property
    def otelcol(self) -> dict:
        return self.yaml("otelcol/config.yaml")

    @property
    def env(self) -> dict:
        out = {}
        for line in self.path(".env").read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip()
        return out

    @property
    def provisioning(self) -> Path:
        return self.grafana_dir / "provisioning"

    @property
    def datasources(self) -> list:
        return yaml.safe_load((self.provisioning / "datasources" / "otelstack.yaml").read_text())["datasources"]

    def dashboards(self) -> dict:
        return {p.name: json.loads(p.read_text()) for p in sorted((self.grafana_dir / "dashboards").glob("*.json"))}

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())


def panels(dashboard: dict):
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def datasource_uids(node) -> set:
    """Every datasource uid a dashboard refers to: panels, targets, variables, links."""
    found = set()
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and "uid" in ds:
            found.add(ds["uid"])
        if "datasourceUid" in node:
            found.add(node["datasourceUid"])
        for v in node.values():
            found |= datasource_uids(v)
    elif isinstance(node, list):
        for v in node:
            found |= datasource_uids(v)
    return found


# Grafana's variables, replaced by what Grafana would send.
PROM_VARS = {
    "$__rate_interval": "1m", "$__interval": "1m", "$__range": "5m",
    "$service": ".*", "$operation": ".*",
}


def substitute_prom(expr: str) -> str:
    for var in sorted(PROM_VARS, key=len, reverse=True):
        expr = expr.replace(var, PROM_VARS[var])
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def promql_exprs(dashboard: dict) -> list[tuple[str, str]]:
    """(panel title, expression) for every Prometheus target and variable query."""
    out = []
    for p in panels(dashboard):
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("type") == "prometheus" and t.get("expr"):
                out.append((p["title"], t["expr"]))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("datasource", {}).get("type") == "prometheus":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
            assert m, f"variable {v['name']}: unexpected query {q}"
            # Checked as the equivalent PromQL, which carries the label too.
            out.append((f"variable {v['name']}", f"group by ({m.group(2)}) ({m.group(1)})"))
    return out


def sql_queries(dashboard: dict) -> list[tuple[str, str]]:
    out = []
    for p in panels(dashboard):
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("type") == "mysql":
                out.append((p["title"], t["rawSql"]))
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("datasource", {}).get("type") == "mysql":
            out.append((f"variable {v['name']}", v["query"]))
    return out


_PROM_FUNCS_AND_WORDS = {
    "sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile", "by", "without",
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "offset", "bool", "topk", "bottomk",
    "le", "label_values", "group",
}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that start a selector
    (followed by `{` or `[`, or standing alone), not functions, keywords, or
    label names inside `by (...)` / `{...}`."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)           # drop string literals
    expr = re.sub(r"\{[^}]*\}", "{}", expr)                    # drop matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # drop grouping labels
    expr = re.sub(r"\[[^\]]*\]", "[]", expr)                   # drop ranges
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end():].lstrip()
        if word in _PROM_FUNCS_AND_WORDS or rest.startswith("("):
            continue
        names.add(word)
    return names


_SQL_WORDS = {
    "select", "from", "where", "and", "or", "not", "in", "as", "group", "by", "order", "desc", "asc", "limit",
    "distinct", "union", "is", "null", "like", "between", "case", "when", "then", "else", "end", "having",
    "count", "max", "min", "sum", "avg", "coalesce", "metric", "on", "join", "left", "inner",
}


def sql_identifiers(sql: str) -> tuple[set[str], set[str]]:
    """(tables, column identifiers) of a Grafana SQL query: macros, strings,
    numbers, keywords, functions and `AS` aliases removed."""
    sql = re.sub(r"\$\{[^}]*\}", "''", sql)
    sql = re.sub(r"\$__\w+\(([^()]*)\)", r"\1", sql)  # $__timeFilter(col) -> col; keeps the column
    sql = re.sub(r"'(?:[^'\\]|\\.)*'", "''", sql)
    tables = set(re.findall(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)", sql, re.I))
    aliases = {a.lower() for a in re.findall(r"\bAS\s+([A-Za-z_]\w*)", sql, re.I)}
    cols = set()
    for m in re.finditer(r"[A-Za-z_]\w*", sql):
        word = m.group(0)
        if word.lower() in _SQL_WORDS or word.lower() in aliases or word in tables:
            continue
        if sql[m.end():].lstrip().startswith("("):
            continue
        if re.fullmatch(r"\d+\w*", word):
            continue
        cols.add(word)
    return tables, cols
