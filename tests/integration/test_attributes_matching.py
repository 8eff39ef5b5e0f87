"""The attributes processor's `include`/`exclude` rules end to end.

Raw OTLP requests with spans, log records and metrics that differ in one
matched property go through a real collector to a gRPC sink; each item that
arrives is checked: only the selected ones carry the inserted attribute, the
others arrive unchanged. Semantics as otelcol-contrib's filterspan, filterlog
and filtermetric: include first, then exclude; strict is equality, regexp is
an unanchored Go-style match.
"""

from __future__ import annotations

import subprocess
import time

from conftest import COLLECTOR_BIN, config_yaml, otlp_exporter, pipeline
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from otlp_util import grpc_export, kvs, log_request, make_span, trace_request, typed_attrs

SINK_TIMEOUT = 10
TAG = [{"key": "matched", "value": True, "action": "insert"}]


def start(collector, ports, sink, rule: dict, signal: str):
    cfg = config_yaml(
        ports, processors={"attributes": {"actions": TAG, **rule}},
        exporters={"otlp": otlp_exporter(sink.port)},
        pipelines={signal: pipeline(["otlp"], ["attributes"])},
    )
    return collector(cfg)


def tagged(kv_list) -> bool:
    return "matched" in typed_attrs(kv_list)


SERVER, CLIENT = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT


def send_spans(ports, sink):
    spans = [
        make_span("GET /users", kind=SERVER, attributes={"http.status_code": 200}),
        make_span("GET /health", kind=SERVER, attributes={"http.status_code": 200}),
        make_span("POST /orders", kind=SERVER, attributes={"http.status_code": 503}),
        make_span("SELECT orders", kind=CLIENT, attributes={"db.system": "mariadb"}),
    ]
    grpc_export(ports.grpc, trace_request(spans, resource={"service.name": "shop"}))
    sink.wait_for("traces", len(spans), SINK_TIMEOUT)
    return {sp.name: (tagged(sp.attributes), typed_attrs(sp.attributes)) for _, _, sp in sink.spans()}


def test_spans_include_only(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {"include": {
        "match_type": "strict", "span_kinds": ["SPAN_KIND_SERVER"], "services": ["shop"]}}, "traces")
    got = send_spans(ports, grpc_sink)
    assert {n: t for n, (t, _) in got.items()} == {
        "GET /users": True, "GET /health": True, "POST /orders": True, "SELECT orders": False}
    # unmatched items keep exactly what they had
    assert got["SELECT orders"][1] == {"db.system": ("string_value", "mariadb")}
    assert got["GET /users"][1] == {"http.status_code": ("int_value", 200), "matched": ("bool_value", True)}


def test_spans_exclude_only(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {"exclude": {"match_type": "regexp", "span_names": ["health"]}}, "traces")
    got = send_spans(ports, grpc_sink)
    assert {n: t for n, (t, _) in got.items()} == {
        "GET /users": True, "GET /health": False, "POST /orders": True, "SELECT orders": True}


def test_spans_include_then_exclude(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {
        "include": {"match_type": "regexp", "span_names": ["^(GET|POST) "]},
        "exclude": {"match_type": "regexp", "attributes": [{"key": "http.status_code", "value": "^5"}]},
    }, "traces")
    got = send_spans(ports, grpc_sink)
    assert {n: t for n, (t, _) in got.items()} == {
        "GET /users": True, "GET /health": True, "POST /orders": False, "SELECT orders": False}


def log_record(body: str, severity: int, text: str, **attrs) -> logs_pb2.LogRecord:
    rec = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_number=severity, severity_text=text,
                             attributes=kvs(attrs))
    rec.body.string_value = body
    return rec


def test_logs_include_and_exclude(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {
        "include": {"match_type": "strict", "log_severity_number": {"min": "WARN", "match_undefined": True}},
        "exclude": {"match_type": "regexp", "log_bodies": ["^heartbeat"]},
    }, "logs")
    records = [
        log_record("disk almost full", 13, "WARN"),
        log_record("user logged in", 9, "INFO"),
        log_record("heartbeat missed", 17, "ERROR"),
        log_record("no severity", 0, ""),
        log_record("payment failed", 17, "ERROR", order=7),
    ]
    grpc_export(ports.grpc, log_request(records), signal="logs")
    grpc_sink.wait_for("logs", len(records), SINK_TIMEOUT)
    got = {lr.body.string_value: tagged(lr.attributes) for _, _, lr in grpc_sink.log_records()}
    assert got == {"disk almost full": True, "user logged in": False, "heartbeat missed": False,
                   "no severity": True, "payment failed": True}
    [failed] = [lr for _, _, lr in grpc_sink.log_records() if lr.body.string_value == "payment failed"]
    assert typed_attrs(failed.attributes) == {"order": ("int_value", 7), "matched": ("bool_value", True)}


def gauge(name: str, points: int) -> metrics_pb2.Metric:
    now = time.time_ns()
    return metrics_pb2.Metric(name=name, gauge=metrics_pb2.Gauge(data_points=[
        metrics_pb2.NumberDataPoint(time_unix_nano=now, as_int=i, attributes=kvs({"i": i})) for i in range(points)]))


def test_metrics_by_name_every_data_point(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {
        "include": {"match_type": "regexp", "metric_names": ["^http\\."]},
        "exclude": {"match_type": "strict", "metric_names": ["http.server.active"]},
    }, "metrics")
    req = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource=resource_pb2.Resource(attributes=kvs({"service.name": "shop"})),
        scope_metrics=[metrics_pb2.ScopeMetrics(scope=common_pb2.InstrumentationScope(name="it"), metrics=[
            gauge("http.server.duration", 2), gauge("http.server.active", 2), gauge("db.calls", 2)])])])
    grpc_export(ports.grpc, req, signal="metrics")
    grpc_sink.wait_for("metrics", 3, SINK_TIMEOUT)
    got = {m.name: [tagged(p.attributes) for p in m.gauge.data_points] for _, _, m in grpc_sink.metrics()}
    assert got == {"http.server.duration": [True, True], "http.server.active": [False, False],
                   "db.calls": [False, False]}


def validate(ports, tmp_path, sink, include: dict) -> str:
    """Runs `validate` on a traces pipeline with this `include`; returns its output after checking exit 1."""
    path = tmp_path / "config.yaml"
    path.write_text(config_yaml(
        ports, processors={"attributes": {"actions": TAG, "include": include}},
        exporters={"otlp": otlp_exporter(sink.port)},
        pipelines={"traces": pipeline(["otlp"], ["attributes"])},
    ))
    r = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 1, r
    return r.stdout + r.stderr


def test_validate_refuses_property_of_another_signal_and_bad_regexp(ports, tmp_path, grpc_sink):
    out = validate(ports, tmp_path, grpc_sink, {"match_type": "strict", "log_bodies": ["x"]})
    assert "processors.attributes.include.log_bodies" in out, out
    assert "log_bodies should not be specified for trace spans" in out, out
    out = validate(ports, tmp_path, grpc_sink, {"match_type": "regexp", "span_names": ["ok", "("]})
    assert "processors.attributes.include.span_names.1" in out and "invalid regexp" in out, out
