"""The collector's CLI and config handling.

- `validate --config F` accepts good configs: every seed config from
  shared/seeds/ that uses only supported components (copied verbatim to
  testdata/seeds/; fragments are merged onto testdata/base.yaml with repeated
  --config, their processors and exporters put in a pipeline; Helm values
  `config:` sections (*.chart.yaml) onto the chart's default config,
  testdata/helm_chart_config.yaml), and binds no port while doing it.
- `validate` rejects bad configs with exit code 1 and the offending YAML path
  on stderr: key typos, wrong types, undefined components in pipelines,
  unknown component types, and more.
- Env expansion at run time: `${env:X}`, `${X}`, `${env:X:-default}`, `$$`,
  checked on the data that arrives at the sink.
- Several --config files are merged at run time.
- `components` lists the supported components.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import COLLECTOR_BIN, config_yaml, free_port, otlp_exporter, pipeline
from otlp_util import grpc_export, make_span, trace_request, typed_attrs

TESTDATA = Path(__file__).parent / "testdata"
SEEDS = sorted((TESTDATA / "seeds").glob("*.yaml"))
FULL_SEEDS = [p for p in SEEDS if not p.name.endswith((".fragment.yaml", ".chart.yaml"))]
FRAGMENTS = [p for p in SEEDS if p.name.endswith(".fragment.yaml")]
# Helm values `config:` sections: the chart merges them onto its default config
CHART_SEEDS = [p for p in SEEDS if p.name.endswith(".chart.yaml")]
HELM_CHART_CONFIG = TESTDATA / "helm_chart_config.yaml"


def run_cli(*args, env=None, timeout=30) -> subprocess.CompletedProcess:
    assert COLLECTOR_BIN.exists(), f"collector binary {COLLECTOR_BIN} not found"
    return subprocess.run([str(COLLECTOR_BIN), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def validate(*paths, env=None) -> subprocess.CompletedProcess:
    args = ["validate"]
    for p in paths:
        args += ["--config", p]
    return run_cli(*args, env=env)


def test_seed_files_present():
    assert (len(FULL_SEEDS), len(FRAGMENTS), len(CHART_SEEDS)) == (4, 6, 1), [p.name for p in SEEDS]
    for p in SEEDS:
        assert p.read_text().startswith("# seed: shared/seeds/"), p


@pytest.mark.parametrize("seed", FULL_SEEDS, ids=lambda p: p.name)
def test_validate_accepts_seed_config(seed):
    r = validate(seed)
    assert r.returncode == 0, f"{seed.name} rejected:\n{r.stderr}"


@pytest.mark.parametrize("seed", CHART_SEEDS, ids=lambda p: p.name)
def test_validate_accepts_seed_helm_config_on_chart_defaults(seed):
    """The chart's default config + the seed's values `config:`, with the pod's MY_POD_IP."""
    r = validate(HELM_CHART_CONFIG, seed, env={**os.environ, "MY_POD_IP": "127.0.0.1"})
    assert r.returncode == 0, f"{seed.name} on the chart defaults rejected:\n{r.stderr}"


@pytest.mark.parametrize("fragment", FRAGMENTS, ids=lambda p: p.name)
def test_validate_accepts_seed_fragment_merged(fragment, tmp_path):
    """base.yaml + fragment (+ a pipeline using the fragment's processors)."""
    r = validate(TESTDATA / "base.yaml", fragment)
    assert r.returncode == 0, f"base + {fragment.name} rejected:\n{r.stderr}"
    text = fragment.read_text()
    if "\nprocessors:" in text:
        procs = re.findall(r"^  ([a-z_]+(?:/[\w-]+)?):", text.split("\nprocessors:", 1)[1], re.M)
        assert procs, text
        use = tmp_path / "use.yaml"
        use.write_text(f"service:\n  pipelines:\n    traces:\n      processors: [{', '.join(procs)}]\n")
        r = validate(TESTDATA / "base.yaml", fragment, use)
        assert r.returncode == 0, f"base + {fragment.name} with processors {procs} in the pipeline:\n{r.stderr}"
    if text.startswith("exporters:", text.index("\n") + 1) or "\nexporters:" in text:
        section = text.split("exporters:", 1)[1]
        exps = re.findall(r"^  ([a-z_]+(?:/[\w-]+)?):", section, re.M)
        assert exps, text
        use = tmp_path / "use_exporters.yaml"
        use.write_text(f"service:\n  pipelines:\n    traces:\n      exporters: [{', '.join(exps)}]\n")
        r = validate(TESTDATA / "base.yaml", fragment, use)
        assert r.returncode == 0, f"base + {fragment.name} with exporters {exps} in the pipeline:\n{r.stderr}"


def test_validate_binds_no_port(tmp_path):
    """validate must not start receivers: a port held by us does not matter."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{port}
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  debug: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
""")
        r = validate(cfg)
        assert r.returncode == 0, r.stderr


GOOD = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
processors:
  batch:
    timeout: 1s
    send_batch_size: 100
exporters:
  otlp:
    endpoint: backend:4317
    tls:
      insecure: true
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"""

# (id, replace-this, with-this, strings that must all appear in stderr)
BAD = [
    ("key-typo", "      insecure: true", "      insecur: true", ["exporters.otlp.tls.insecur"]),
    ("wrong-type-int", "send_batch_size: 100", "send_batch_size: lots", ["processors.batch.send_batch_size"]),
    ("wrong-type-duration", "timeout: 1s", "timeout: whenever", ["processors.batch.timeout"]),
    ("wrong-type-map", "      grpc:\n        endpoint: 127.0.0.1:4317", "      grpc: [1, 2]",
     ["receivers.otlp.protocols.grpc"]),
    ("undefined-exporter", "exporters: [otlp]", "exporters: [otlp, otlp/missing]",
     ["service.pipelines.traces", "otlp/missing"]),
    ("undefined-processor", "processors: [batch]", "processors: [batch, batch/nope]",
     ["service.pipelines.traces", "batch/nope"]),
    ("undefined-receiver", "receivers: [otlp]\n      processors", "receivers: [otlp/absent]\n      processors",
     ["service.pipelines.traces", "otlp/absent"]),
    ("unknown-exporter-type", "exporters:\n  otlp:", "exporters:\n  kafkaa:\n    brokers: [x]\n  otlp:",
     ["exporters.kafkaa"]),
    ("unknown-receiver-type", "receivers:\n  otlp:", "receivers:\n  otlpp: {}\n  otlp:", ["receivers.otlpp"]),
    ("unknown-top-level", "service:\n", "servce:\n  x: 1\nservice:\n", ["servce"]),
    ("unknown-signal", "    traces:\n", "    tracez:\n", ["service.pipelines.tracez"]),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_validate_rejects_with_yaml_path(case, tmp_path):
    _, old, new, expect = case
    assert old in GOOD
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(GOOD.replace(old, new, 1))
    r = validate(cfg)
    assert r.returncode == 1, f"exit {r.returncode}; stderr:\n{r.stderr}"
    for s in expect:
        assert s in r.stderr, f"stderr does not name {s!r}:\n{r.stderr}"


def test_validate_good_baseline(tmp_path):
    cfg = tmp_path / "good.yaml"
    cfg.write_text(GOOD)
    r = validate(cfg)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("text,expect", [
    (GOOD.replace("processors:\n", "processors:\n  attributes:\n    actions:\n      - key: a\n        action: explode\n"),
     ["processors.attributes", "explode"]),
    (GOOD.replace("  batch:\n", "  memory_limiter:\n    check_interval: 0s\n    limit_mib: 100\n  batch:\n"),
     ["processors.memory_limiter", "check_interval"]),
    ("receivers: [this is: not valid yaml\n", []),
    ("", []),
], ids=["bad-attributes-action", "memory-limiter-zero-interval", "yaml-syntax", "empty"])
def test_validate_rejects_semantic_errors(text, expect, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    r = validate(cfg)
    assert r.returncode == 1, f"exit {r.returncode}; stderr:\n{r.stderr}"
    assert r.stderr.strip(), "an error must be explained on stderr"
    for s in expect:
        assert s in r.stderr, f"stderr does not name {s!r}:\n{r.stderr}"


def test_validate_missing_file():
    r = validate("/nonexistent/otelstack.yaml")
    assert r.returncode == 1 and "/nonexistent/otelstack.yaml" in r.stderr


def test_env_expansion_end_to_end(collector, ports, grpc_sink):
    env = {"IT_ENV_A": "alpha", "IT_ENV_B": "bravo", "IT_SINK": grpc_sink.endpoint, "IT_BATCH": "1"}
    cfg = config_yaml(
        ports,
        processors={
            "batch": {"send_batch_size": "${env:IT_BATCH}", "timeout": "10s"},
            "resource": {"attributes": [
                {"key": "from.env", "value": "${env:IT_ENV_A}", "action": "upsert"},
                {"key": "from.bare", "value": "${IT_ENV_B}", "action": "upsert"},
                {"key": "from.default", "value": "${env:IT_ENV_UNSET_XYZ:-fallback-value}", "action": "upsert"},
                {"key": "default.unused", "value": "${env:IT_ENV_A:-unused}", "action": "upsert"},
                {"key": "embedded", "value": "pre-${env:IT_ENV_A}-post", "action": "upsert"},
                {"key": "dollar", "value": "price$$5", "action": "upsert"},
                {"key": "escaped", "value": "$${env:IT_ENV_A}", "action": "upsert"},
            ]},
        },
        exporters={"otlp": {"endpoint": "${env:IT_SINK}", "tls": {"insecure": True}}},
        pipelines={"traces": pipeline(["otlp"], ["resource", "batch"])},
    )
    # unquoted, so the expanded "1" is an int; with the 10s batch timeout only
    # send_batch_size 1 (from the env) gets the span out within the wait below
    cfg = cfg.replace('"${env:IT_BATCH}"', "${env:IT_BATCH}")
    collector(cfg, env=env)
    grpc_export(ports.grpc, trace_request([make_span("env")], resource={"service.name": "env-test"}))
    grpc_sink.wait_for("traces", 1, timeout=5)
    assert len(grpc_sink.spans()) == 1
    res = typed_attrs(grpc_sink.requests()[0].resource_spans[0].resource.attributes)
    assert res == {
        "service.name": ("string_value", "env-test"),
        "from.env": ("string_value", "alpha"),
        "from.bare": ("string_value", "bravo"),
        "from.default": ("string_value", "fallback-value"),
        "default.unused": ("string_value", "alpha"),
        "embedded": ("string_value", "pre-alpha-post"),
        "dollar": ("string_value", "price$5"),
        "escaped": ("string_value", "${env:IT_ENV_A}"),
    }


def test_multiple_config_files_merge(collector, ports, grpc_sink, tmp_path):
    """Maps merge deeply across --config files; the later file wins."""
    base = config_yaml(
        ports,
        processors={"resource": {"attributes": [{"key": "layer", "value": "base", "action": "upsert"}]}},
        exporters={"otlp": otlp_exporter(free_port())},  # endpoint overridden by the overlay
        pipelines={"traces": pipeline(["otlp"], ["resource"])},
    )
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"""
exporters:
  otlp:
    endpoint: {grpc_sink.endpoint}
processors:
  resource:
    attributes:
      - key: layer
        value: overlay
        action: upsert
""")
    collector(base, args=("--config", str(overlay)))
    grpc_export(ports.grpc, trace_request([make_span("merged")]))
    grpc_sink.wait_for("traces", 1)
    [(res, _, sp)] = grpc_sink.spans()
    assert sp.name == "merged" and res["layer"] == "overlay"


def test_components_lists_supported():
    r = run_cli("components")
    assert r.returncode == 0, r.stderr
    words = set(re.findall(r"[a-z_]+", r.stdout))
    for name in ("otlp", "otlphttp", "batch", "resource", "attributes", "debug", "health_check"):
        assert name in words, f"`components` does not list {name}:\n{r.stdout}"
    rows = {line.split()[1]: line.split()[2] for line in r.stdout.splitlines()[1:] if line.strip()}
    assert rows["jaeger"] == "traces" and rows["loki"] == "logs", r.stdout
