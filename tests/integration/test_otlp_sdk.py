"""OpenTelemetry Python SDK -> otelstack-collector -> sinks.

The SDK's own OTLP exporters (gRPC and HTTP/protobuf, each with and without
gzip) send traces, metrics and logs to the collector's otlp receiver. The
collector runs `otlp receiver -> batch -> [otlp exporter, otlphttp exporter]`,
fanning out to a gRPC sink and an HTTP sink, and both sinks are checked item
by item against what the SDK generated (span contexts captured with an
InMemorySpanExporter next to the OTLP exporter). Also: exporter `headers`,
otlphttp `traces_endpoint`, and the debug/logging exporters.
"""

from __future__ import annotations

import logging
import uuid
import warnings

import grpc
import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression as HttpCompression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.metrics import Observation
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from conftest import config_yaml, otlp_exporter, otlphttp_exporter, pipeline
from otlp_util import attrs, grpc_export, make_span, sdk_attrs, trace_request

# client variants: (protocol, gzip?)
CLIENTS = [("grpc", False), ("grpc", True), ("http", False), ("http", True)]
CLIENT_IDS = ["grpc", "grpc-gzip", "http", "http-gzip"]

KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4, SpanKind.CONSUMER: 5}
STATUS = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}


def sdk_exporter(kind: str, protocol: str, gz: bool, ports):
    if protocol == "grpc":
        cls = {"traces": GrpcSpanExporter, "metrics": GrpcMetricExporter, "logs": GrpcLogExporter}[kind]
        return cls(endpoint=f"127.0.0.1:{ports.grpc}", insecure=True, timeout=10,
                   compression=grpc.Compression.Gzip if gz else grpc.Compression.NoCompression)
    cls = {"traces": HttpSpanExporter, "metrics": HttpMetricExporter, "logs": HttpLogExporter}[kind]
    return cls(endpoint=f"{ports.http_url}/v1/{kind}", timeout=10,
               compression=HttpCompression.Gzip if gz else HttpCompression.NoCompression)


class Checked:
    """Wraps an SDK span exporter and remembers every export result."""

    def __init__(self, inner):
        self.inner, self.results = inner, []

    def export(self, spans):
        r = self.inner.export(spans)
        self.results.append(r)
        return r

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


def fanout_collector(collector, ports, grpc_sink, http_sink, signal_name):
    cfg = config_yaml(
        ports,
        processors={"batch": {"timeout": "200ms"}},
        exporters={"otlp": otlp_exporter(grpc_sink.port), "otlphttp": otlphttp_exporter(http_sink.port)},
        pipelines={signal_name: pipeline(["otlp", "otlphttp"], ["batch"])},
    )
    return collector(cfg)


RESOURCE = {"service.name": "sdk-it", "service.version": "9.9.9", "deployment.environment": "it",
            "res.int": 7, "res.bool": False}


def emit_spans(exporter):
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    memory = InMemorySpanExporter()
    checked = Checked(exporter)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(BatchSpanProcessor(checked, schedule_delay_millis=100))
    tracer = provider.get_tracer("it.tracer", "1.2.3")
    remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                         is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "GET /orders", kind=SpanKind.SERVER,
        attributes={"http.method": "GET", "http.status_code": 200, "ratio": 0.25, "cached": True,
                    "tags": ["a", "b"], "ids": [1, 2, 3], "flags": [True, False], "weights": [1.5, 2.5]},
    ) as parent:
        parent.add_event("cache.miss", {"key": "orders:42", "attempt": 2})
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT,
                                          links=[Link(remote, {"link.kind": "follows"})]) as child:
            child.set_attribute("db.rows", 3)
            child.set_status(Status(StatusCode.ERROR, "deadlock"))
        with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER):
            pass
        with tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER):
            pass
        parent.set_status(Status(StatusCode.OK))
    with tracer.start_as_current_span("background", kind=SpanKind.INTERNAL):
        pass
    assert provider.force_flush(15000)
    provider.shutdown()
    assert checked.results and all(r == SpanExportResult.SUCCESS for r in checked.results), checked.results
    return memory.get_finished_spans()


def assert_spans_match(sdk_spans, sink):
    sink.wait_for("traces", len(sdk_spans))
    got = {sp.span_id: (res, scope, sp) for res, scope, sp in sink.spans()}
    assert len(sink.spans()) == len(sdk_spans), f"{sink.name}: duplicates or extra spans"
    for s in sdk_spans:
        key = s.context.span_id.to_bytes(8, "big")
        assert key in got, f"{sink.name}: span {s.name} ({key.hex()}) missing"
        res, scope, sp = got[key]
        assert sp.trace_id == s.context.trace_id.to_bytes(16, "big")
        assert sp.parent_span_id == (s.parent.span_id.to_bytes(8, "big") if s.parent else b"")
        assert sp.name == s.name
        assert sp.kind == KIND[s.kind]
        assert sp.start_time_unix_nano == s.start_time and sp.end_time_unix_nano == s.end_time
        assert attrs(sp.attributes) == sdk_attrs(s.attributes)
        assert [(e.name, attrs(e.attributes), e.time_unix_nano) for e in sp.events] == \
            [(e.name, sdk_attrs(e.attributes), e.timestamp) for e in s.events]
        assert [(lk.trace_id, lk.span_id, attrs(lk.attributes)) for lk in sp.links] == \
            [(lk.context.trace_id.to_bytes(16, "big"), lk.context.span_id.to_bytes(8, "big"),
              sdk_attrs(lk.attributes)) for lk in s.links]
        assert sp.status.code == STATUS[s.status.status_code]
        assert sp.status.message == (s.status.description or "")
        assert res == sdk_attrs(s.resource.attributes)
        assert (scope.name, scope.version) == ("it.tracer", "1.2.3")


@pytest.mark.parametrize("protocol,gz", CLIENTS, ids=CLIENT_IDS)
def test_sdk_traces_fan_out(collector, ports, grpc_sink, http_sink, protocol, gz):
    fanout_collector(collector, ports, grpc_sink, http_sink, "traces")
    sdk_spans = emit_spans(sdk_exporter("traces", protocol, gz, ports))
    assert len(sdk_spans) == 5
    assert_spans_match(sdk_spans, grpc_sink)
    assert_spans_match(sdk_spans, http_sink)
    for meta in http_sink.metadata("traces"):
        assert meta["path"] == "/v1/traces"
        assert meta["headers"].get("content-type") == "application/x-protobuf"
        assert meta["headers"].get("content-encoding") == "gzip", "otlphttp compresses with gzip by default"


def emit_metrics(exporter):
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader])
    meter = provider.get_meter("it.meter", "0.1")
    counter = meter.create_counter("it.requests", unit="{request}", description="requests served")
    counter.add(3, {"route": "/a"})
    counter.add(4, {"route": "/a"})
    counter.add(5, {"route": "/b"})
    hist = meter.create_histogram("it.latency", unit="ms")
    for v in (5, 15, 250):
        hist.record(v, {"route": "/a"})
    updown = meter.create_up_down_counter("it.queue.depth")
    updown.add(10)
    updown.add(-3)
    meter.create_observable_gauge("it.temperature", callbacks=[
        lambda _opts: [Observation(21.5, {"room": "a"}), Observation(-4, {"room": "b"})]], unit="Cel")
    assert provider.force_flush(15000)
    provider.shutdown()


def by_attrs(points, key):
    return {attrs(p.attributes).get(key): p for p in points}


def assert_metrics_match(sink):
    sink.wait_for("metrics", lambda reqs: {"it.requests", "it.latency", "it.queue.depth", "it.temperature"}
                  <= {m.name for _, _, m in sink.metrics()})
    metrics = {}
    for res, scope, m in sink.metrics():
        assert res["service.name"] == "sdk-it" and res["res.int"] == 7
        assert (scope.name, scope.version) == ("it.meter", "0.1")
        metrics.setdefault(m.name, []).append(m)
    cum = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    # The SDK exports once on force_flush and once more on shutdown: every copy must be right.
    for m in metrics["it.requests"]:
        assert m.WhichOneof("data") == "sum" and m.unit == "{request}" and m.description == "requests served"
        assert m.sum.is_monotonic and m.sum.aggregation_temporality == cum
        pts = by_attrs(m.sum.data_points, "route")
        assert set(pts) == {"/a", "/b"}
        assert (pts["/a"].as_int, pts["/b"].as_int) == (7, 5)
    for m in metrics["it.latency"]:
        assert m.WhichOneof("data") == "histogram" and m.unit == "ms"
        (p,) = m.histogram.data_points
        assert attrs(p.attributes) == {"route": "/a"}
        assert (p.count, p.sum, p.min, p.max) == (3, 270.0, 5.0, 250.0)
        assert list(p.explicit_bounds) == [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000]
        assert list(p.bucket_counts) == [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    for m in metrics["it.queue.depth"]:
        assert m.WhichOneof("data") == "sum" and not m.sum.is_monotonic
        (p,) = m.sum.data_points
        assert p.as_int == 7
    for m in metrics["it.temperature"]:
        assert m.WhichOneof("data") == "gauge" and m.unit == "Cel"
        pts = by_attrs(m.gauge.data_points, "room")
        assert pts["a"].WhichOneof("value") == "as_double" and pts["a"].as_double == 21.5
        assert pts["b"].WhichOneof("value") == "as_int" and pts["b"].as_int == -4


@pytest.mark.parametrize("protocol,gz", CLIENTS, ids=CLIENT_IDS)
def test_sdk_metrics_fan_out(collector, ports, grpc_sink, http_sink, protocol, gz):
    fanout_collector(collector, ports, grpc_sink, http_sink, "metrics")
    emit_metrics(sdk_exporter("metrics", protocol, gz, ports))
    assert_metrics_match(grpc_sink)
    assert_metrics_match(http_sink)


def emit_logs(exporter):
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=100))
    pylog = logging.getLogger(f"it.logs.{uuid.uuid4().hex}")
    pylog.propagate = False
    pylog.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # LoggingHandler is deprecated in the SDK, still works
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    pylog.addHandler(handler)
    tracer = TracerProvider().get_tracer("it")
    with tracer.start_as_current_span("log-parent") as span:
        pylog.warning("disk %s is %d%% full", "sda", 91)
        ctx = span.get_span_context()
    pylog.error("plain error")
    pylog.debug("debug detail")
    provider.get_logger("it.api", "2.0").emit(
        body={"event": "login", "user": {"id": 42}}, severity_number=SeverityNumber.INFO2,
        severity_text="INFO2", attributes={"client": "sdk", "retries": 1})
    assert provider.force_flush(15000)
    provider.shutdown()
    pylog.removeHandler(handler)
    return ctx


def assert_logs_match(sink, ctx):
    sink.wait_for("logs", 4)
    recs = sink.log_records()
    assert len(recs) == 4
    by_body = {}
    for res, scope, lr in recs:
        assert res["service.name"] == "sdk-it" and res["deployment.environment"] == "it"
        body = lr.body.string_value if lr.body.WhichOneof("value") == "string_value" else "<kvlist>"
        by_body[body] = (scope, lr)
    assert set(by_body) == {"disk sda is 91% full", "plain error", "debug detail", "<kvlist>"}
    _, warn = by_body["disk sda is 91% full"]
    assert (warn.severity_number, warn.severity_text) == (logs_pb2.SEVERITY_NUMBER_WARN, "WARN")
    assert warn.trace_id == ctx.trace_id.to_bytes(16, "big") and warn.span_id == ctx.span_id.to_bytes(8, "big")
    assert warn.time_unix_nano > 0
    _, err = by_body["plain error"]
    assert (err.severity_number, err.severity_text) == (logs_pb2.SEVERITY_NUMBER_ERROR, "ERROR")
    assert err.trace_id == b""
    _, dbg = by_body["debug detail"]
    assert dbg.severity_number == logs_pb2.SEVERITY_NUMBER_DEBUG
    scope, api = by_body["<kvlist>"]
    assert (scope.name, scope.version) == ("it.api", "2.0")
    assert attrs(api.body.kvlist_value.values) == {"event": "login", "user": {"id": 42}}
    assert (api.severity_number, api.severity_text) == (logs_pb2.SEVERITY_NUMBER_INFO2, "INFO2")
    assert attrs(api.attributes) == {"client": "sdk", "retries": 1}


@pytest.mark.parametrize("protocol,gz", CLIENTS, ids=CLIENT_IDS)
def test_sdk_logs_fan_out(collector, ports, grpc_sink, http_sink, protocol, gz):
    fanout_collector(collector, ports, grpc_sink, http_sink, "logs")
    ctx = emit_logs(sdk_exporter("logs", protocol, gz, ports))
    assert_logs_match(grpc_sink, ctx)
    assert_logs_match(http_sink, ctx)


def test_exporter_headers_compression_none_and_traces_endpoint(collector, ports, grpc_sink, http_sink):
    """headers reach both sinks; compression: none is honoured by otlphttp;
    traces_endpoint replaces the /v1/traces URL."""
    cfg = config_yaml(
        ports,
        exporters={
            "otlp": otlp_exporter(grpc_sink.port, headers={"x-tenant": "tenant-a"}, compression="none"),
            "otlphttp": {"traces_endpoint": f"{http_sink.url}/custom/traces", "compression": "none",
                         "headers": {"x-tenant": "tenant-b", "authorization": "Bearer t0k"}},
        },
        pipelines={"traces": pipeline(["otlp", "otlphttp"])},
    )
    collector(cfg)
    span = make_span("with-headers")
    grpc_export(ports.grpc, trace_request([span]))
    for sink in (grpc_sink, http_sink):
        sink.wait_for("traces", 1)
        assert [sp.span_id for _, _, sp in sink.spans()] == [span.span_id]
    assert grpc_sink.metadata("traces")[0].get("x-tenant") == "tenant-a"
    meta = http_sink.metadata("traces")[0]
    assert meta["path"] == "/custom/traces"
    assert meta["headers"].get("x-tenant") == "tenant-b"
    assert meta["headers"].get("authorization") == "Bearer t0k"
    assert meta["headers"].get("content-type") == "application/x-protobuf"
    assert meta["headers"].get("content-encoding", "identity") == "identity"


@pytest.mark.parametrize("exporter_type", ["debug", "logging"])
def test_debug_and_logging_exporters_print_spans(collector, ports, grpc_sink, exporter_type):
    name = f"debug-span-{uuid.uuid4().hex[:8]}"
    cfg = config_yaml(
        ports,
        exporters={exporter_type: {"verbosity": "detailed"}, "otlp": otlp_exporter(grpc_sink.port)},
        pipelines={"traces": pipeline([exporter_type, "otlp"])},
    )
    c = collector(cfg)
    span = make_span(name, attributes={"marker.attr": "marker-value-123"})
    grpc_export(ports.grpc, trace_request([span]))
    grpc_sink.wait_for("traces", 1)
    c.terminate()
    err = c.stderr()
    assert name in err, f"{exporter_type} exporter (detailed) did not print the span name; stderr:\n{err[-3000:]}"
    assert "marker-value-123" in err
    assert span.trace_id.hex() in err
