"""The legacy `jaeger` and `loki` exporters against servers built from
Jaeger's and Loki's protocol definitions (legacy_peers.py), with the Python
OTel SDK sending through the collector. Asserts the decoded Jaeger spans and
Loki streams item by item, the retry rules (transient failures retried,
client errors not), the removal warning printed once, and config errors with
their key path."""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from pathlib import Path

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from conftest import Ports, config_yaml, free_port, pipeline
from legacy_peers import JaegerCollector, LokiPush
from otlp_util import to_yaml
from test_config_cli import TESTDATA, run_cli

FAST_RETRY = {"enabled": True, "initial_interval": "50ms", "max_interval": "100ms", "max_elapsed_time": "30s"}
# one worker, so batches reach the peer in the order they were sent
ONE_WORKER = {"num_consumers": 1}


@pytest.fixture
def jaeger():
    j = JaegerCollector()
    yield j
    j.stop()


@pytest.fixture
def loki():
    server = LokiPush()
    yield server
    server.stop()


def jaeger_config(ports, peer, **extra):
    exporter = {"endpoint": f"127.0.0.1:{peer.port}", "tls": {"insecure": True}, "retry_on_failure": FAST_RETRY,
                "sending_queue": ONE_WORKER, **extra}
    return config_yaml(ports, exporters={"jaeger": exporter}, pipelines={"traces": pipeline(["jaeger"])})


def tags(kvs, model):
    """Jaeger tags as {key: (type name, value)}."""
    out = {}
    for kv in kvs:
        t = model.ValueType.Name(kv.v_type)
        v = {"STRING": kv.v_str, "BOOL": kv.v_bool, "INT64": kv.v_int64, "FLOAT64": kv.v_float64,
             "BINARY": kv.v_binary}[t]
        out[kv.key] = (t, v)
    return out


def send_spans(port, emit):
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "service.version": "1.4.2",
                                                       "res.int": 7}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    emit(provider.get_tracer("it.tracer", "1.2.3"))
    assert provider.force_flush(15000)
    provider.shutdown()
    return {s.name: s for s in memory.get_finished_spans()}


def test_jaeger_exporter_sends_mapped_spans(collector, jaeger):
    ports = Ports.new()
    col = collector(jaeger_config(ports, jaeger, headers={"x-tenant": "t1"}, compression="gzip"))
    remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                         is_remote=True, trace_flags=TraceFlags(1))

    def emit(tracer):
        with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER,
                                          attributes={"http.status_code": 200, "ratio": 0.25, "cached": True,
                                                      "tags": ["a", "b"]}) as parent:
            parent.add_event("cache.miss", {"key": "orders:42", "attempt": 2})
            with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT,
                                              links=[Link(remote, {"link.kind": "follows"})]) as child:
                child.set_status(Status(StatusCode.ERROR, "deadlock"))
            parent.set_status(Status(StatusCode.OK))

    sdk = send_spans(ports.grpc, emit)
    model = jaeger.model
    batches = jaeger.ok_batches(2)  # SimpleSpanProcessor: one export per span
    spans = {}
    for b in batches:
        assert b.process.service_name == "shop"
        ptags = tags(b.process.tags, model)
        assert "service.name" not in ptags
        assert ptags["service.version"] == ("STRING", "1.4.2") and ptags["res.int"] == ("INT64", 7)
        assert ptags["telemetry.sdk.language"] == ("STRING", "python")
        for s in b.spans:
            spans[s.operation_name] = s
    assert sorted(spans) == ["GET /orders", "SELECT orders"]
    for _, meta, _ in jaeger.received.calls:
        assert meta.get("x-tenant") == "t1"

    parent, child = spans["GET /orders"], spans["SELECT orders"]
    sp, sc = sdk["GET /orders"], sdk["SELECT orders"]
    assert parent.trace_id == sp.context.trace_id.to_bytes(16, "big")
    assert parent.span_id == sp.context.span_id.to_bytes(8, "big")
    assert child.trace_id == parent.trace_id
    assert parent.start_time.ToNanoseconds() == sp.start_time
    assert parent.duration.ToNanoseconds() == sp.end_time - sp.start_time
    assert list(parent.references) == []
    assert [(r.trace_id, r.span_id, model.SpanRefType.Name(r.ref_type)) for r in child.references] == [
        (parent.trace_id, parent.span_id, "CHILD_OF"),
        (remote.trace_id.to_bytes(16, "big"), remote.span_id.to_bytes(8, "big"), "FOLLOWS_FROM"),
    ]
    assert [(kv.key, kv.v_str) for kv in parent.tags[:2]] == [("otel.scope.name", "it.tracer"),
                                                            ("otel.scope.version", "1.2.3")]
    assert tags(parent.tags, model) == {
        "otel.scope.name": ("STRING", "it.tracer"), "otel.scope.version": ("STRING", "1.2.3"),
        "http.status_code": ("INT64", 200), "ratio": ("FLOAT64", 0.25), "cached": ("BOOL", True),
        "tags": ("STRING", '["a","b"]'), "span.kind": ("STRING", "server"), "otel.status_code": ("STRING", "OK"),
    }
    assert tags(child.tags, model) == {
        "otel.scope.name": ("STRING", "it.tracer"), "otel.scope.version": ("STRING", "1.2.3"),
        "span.kind": ("STRING", "client"), "otel.status_code": ("STRING", "ERROR"), "error": ("BOOL", True),
        "otel.status_description": ("STRING", "deadlock"),
    }
    assert len(parent.logs) == 1
    log = parent.logs[0]
    assert log.timestamp.ToNanoseconds() == sp.events[0].timestamp
    assert [(kv.key, model.ValueType.Name(kv.v_type)) for kv in log.fields] == [
        ("event", "STRING"), ("key", "STRING"), ("attempt", "INT64")]
    assert tags(log.fields, model) == {"event": ("STRING", "cache.miss"), "key": ("STRING", "orders:42"),
                                       "attempt": ("INT64", 2)}
    assert not child.logs and sc.status.status_code == StatusCode.ERROR
    col.terminate()
    assert col.stderr().count("the jaeger exporter was removed from otelcol-contrib") == 1, col.stderr()


def one_span(port, name):
    return send_spans(port, lambda t: t.start_as_current_span(name).__enter__().end())[name]


def test_jaeger_retries_unavailable_but_not_invalid_argument(collector, jaeger):
    import grpc
    ports = Ports.new()
    collector(jaeger_config(ports, jaeger))
    jaeger.fail = [grpc.StatusCode.UNAVAILABLE]
    one_span(ports.grpc, "first")
    calls = jaeger.received.wait(2)
    assert [(code, [s.operation_name for s in req.batch.spans]) for code, _, req in calls] == [
        ("UNAVAILABLE", ["first"]), ("OK", ["first"])]
    # a permanent error drops the batch: the next call carries the next span
    jaeger.fail = [grpc.StatusCode.INVALID_ARGUMENT]
    one_span(ports.grpc, "refused")
    one_span(ports.grpc, "after")
    calls = jaeger.received.wait(4)
    assert [(code, [s.operation_name for s in req.batch.spans]) for code, _, req in calls[2:]] == [
        ("INVALID_ARGUMENT", ["refused"]), ("OK", ["after"])]


def loki_config(ports, peer, *, processors=None, procs=(), **extra):
    exporter = {"endpoint": peer.url, "retry_on_failure": FAST_RETRY, "sending_queue": ONE_WORKER, **extra}
    return config_yaml(ports, exporters={"loki": exporter}, processors=processors,
                       pipelines={"logs": pipeline(["loki"], processors=procs)})


# seed 003's hint processors, as the gateway there sets them
SEED_003_PROCESSORS = {
    "attributes": {"actions": [{"action": "insert", "key": "loki.attribute.labels", "value": "container"},
                               {"action": "insert", "key": "loki.format", "value": "json"}]},
    "resource": {"attributes": [{"action": "insert", "key": "loki.resource.labels",
                                 "value": "service.name, service.namespace"}]},
}


def send_logs(port, emit, resource):
    provider = LoggerProvider(resource=Resource.create(resource))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"127.0.0.1:{port}", insecure=True)))
    emit(provider)
    assert provider.force_flush(15000)
    provider.shutdown()


def entries(calls):
    """[(tenant, labels, parsed line or text)] over the successful pushes, in order."""
    out = []
    for status, headers, req in calls:
        if status != 204:
            continue
        for stream in req.streams:
            for e in stream.entries:
                out.append((headers.get("x-scope-orgid"), stream.labels, e))
    return out


def test_loki_exporter_pushes_labelled_streams(collector, loki):
    ports = Ports.new()
    cfg = loki_config(ports, loki, processors=SEED_003_PROCESSORS, procs=["attributes", "resource"],
                      default_labels_enabled={"exporter": False, "job": True})
    col = collector(cfg)

    def emit(provider):
        pylog = logging.getLogger(f"it.loki.{uuid.uuid4().hex}")
        pylog.propagate = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
        pylog.addHandler(handler)
        pylog.warning("disk %s is %d%% full", "sda", 91, extra={"container": "web"})
        pylog.removeHandler(handler)
        provider.get_logger("it.api", "2.0").emit(
            body={"event": "login", "user": {"id": 42}}, severity_number=SeverityNumber.ERROR,
            severity_text="ERROR", attributes={"container": "auth", "retries": 1})
        provider.get_logger("it.api", "2.0").emit(
            body="tenant line", severity_number=SeverityNumber.INFO, attributes={
                "container": "auth", "loki.tenant": "tenant.id", "tenant.id": "team-a"})

    send_logs(ports.grpc, emit, {"service.name": "checkout", "service.namespace": "shop",
                                 "service.instance.id": "pod-7"})
    got = entries(loki.received.wait(3))
    assert len(got) == 3, got
    for _, headers, _ in loki.received.calls:
        assert headers["content-type"] == "application/x-protobuf"
        assert "content-encoding" not in headers
    base = 'instance="pod-7", job="shop/checkout"'
    tenant, labels, e = got[0]
    assert tenant is None
    assert labels == f'{{container="web", {base}, level="WARN", service_name="checkout", service_namespace="shop"}}'
    line = json.loads(e.line)
    assert line["body"] == "disk sda is 91% full" and line["severity"] == "WARN"
    assert "container" not in line["attributes"] and "level" not in line["attributes"]
    assert not any(k.startswith("loki.") for k in line["attributes"])
    assert "service.name" not in line["resources"] and "service.namespace" not in line["resources"]
    assert line["resources"]["service.instance.id"] == "pod-7"
    assert line["instrumentation_scope"]["name"].startswith("it.loki.")
    assert e.timestamp.ToNanoseconds() > 0

    tenant, labels, e = got[1]
    assert tenant is None
    assert labels == f'{{container="auth", {base}, level="ERROR", service_name="checkout", service_namespace="shop"}}'
    line = json.loads(e.line)
    assert line["body"] == {"event": "login", "user": {"id": 42}}
    assert line["attributes"] == {"retries": 1}
    assert line["instrumentation_scope"] == {"name": "it.api", "version": "2.0"}

    tenant, labels, e = got[2]
    assert tenant == "team-a"
    assert labels == f'{{container="auth", {base}, level="INFO", service_name="checkout", service_namespace="shop"}}'
    assert json.loads(e.line)["attributes"] == {"tenant.id": "team-a"}
    col.terminate()
    assert col.stderr().count("the loki exporter was removed from otelcol-contrib") == 1, col.stderr()


def one_log(port, body):
    send_logs(port, lambda p: p.get_logger("it").emit(body=body, severity_number=SeverityNumber.INFO),
              {"service.name": "svc", "service.instance.id": "i-1"})


def bodies(call):
    _, _, req = call
    return [json.loads(e.line)["body"] for s in req.streams for e in s.entries] if req else []


def test_loki_retries_5xx_but_not_4xx(collector, loki):
    ports = Ports.new()
    collector(loki_config(ports, loki))
    loki.statuses = [503, 500]
    one_log(ports.grpc, "first")
    calls = loki.received.wait(3)
    assert [(c[0], bodies(c)) for c in calls] == [(503, ["first"]), (500, ["first"]), (204, ["first"])]
    assert calls[2][2].streams[0].labels == '{exporter="OTLP", instance="i-1", job="svc", level="INFO"}'
    loki.statuses = [400]
    one_log(ports.grpc, "refused")
    one_log(ports.grpc, "after")
    calls = loki.received.wait(5)
    assert [(c[0], bodies(c)) for c in calls[3:]] == [(400, ["refused"]), (204, ["after"])]


def test_raw_and_logfmt_formats(collector, loki):
    ports = Ports.new()
    collector(loki_config(ports, loki, default_labels_enabled={"level": False}))

    def emit(provider):
        logger = provider.get_logger("it")
        logger.emit(body="plain text", attributes={"loki.format": "raw"})
        logger.emit(body="msg=hi", attributes={"loki.format": "logfmt", "k": "v w"})

    send_logs(ports.grpc, emit, {"service.name": "svc", "service.instance.id": "i-1"})
    got = entries(loki.received.wait(2))
    assert [labels for _, labels, _ in got] == ['{exporter="OTLP", instance="i-1", job="svc"}'] * 2
    assert got[0][2].line == "plain text"
    line = got[1][2].line
    assert line.startswith('msg=hi attribute_k="v w" resource_'), line
    assert " resource_service.name=svc " in line and " resource_service.instance.id=i-1 " in line, line
    assert line.endswith(" instrumentation_scope_name=it"), line


@pytest.mark.parametrize("exporter,signal,cfg,expect", [
    ("loki", "logs", {"endpoint": "http://l:3100/loki/api/v1/push", "default_labels_enabled": {"leve": False}},
     ["exporters.loki.default_labels_enabled.leve", "exporter, job, instance and level"]),
    ("loki", "logs", {"endpoint": "http://l:3100/loki/api/v1/push", "tenant_id": "x"},
     ["exporters.loki", "tenant_id"]),
    ("loki", "logs", {"endpoint": "loki:3100"}, ["exporters.loki.endpoint"]),
    ("loki", "traces", {"endpoint": "http://l:3100/loki/api/v1/push"}, ["loki", "traces"]),
    ("jaeger", "traces", {"endpoint": "jaeger:14250", "tls": {"insecur": True}}, ["exporters.jaeger.tls.insecur"]),
    ("jaeger", "traces", {"tls": {"insecure": True}}, ["exporters.jaeger.endpoint", "is required"]),
    ("jaeger", "traces", {"endpoint": "jaeger:14250", "balancer_name": "random"}, ["exporters.jaeger.balancer_name"]),
    ("jaeger", "logs", {"endpoint": "jaeger:14250"}, ["jaeger", "logs"]),
])
def test_invalid_configs_refused_with_key_path(tmp_path, exporter, signal, cfg, expect):
    ports = Ports.new()
    path = tmp_path / "c.yaml"
    path.write_text(config_yaml(ports, exporters={exporter: cfg}, pipelines={signal: pipeline([exporter])}))
    r = run_cli("validate", "--config", path)
    assert r.returncode == 1, r.stderr
    for s in expect:
        assert s in r.stderr, r.stderr


# --- the seeds run: their exporter sections unchanged, only addresses moved to this machine ---

SEEDS = Path(__file__).parent / "testdata" / "seeds"


def run_merged(collector, tmp_path, files, overlay: dict, env=None):
    """Runs files + overlay (the overlay last, so it wins; it holds the health_check)."""
    path = tmp_path / "overlay.yaml"
    text = to_yaml(overlay) + "\n"
    path.write_text(text)
    args = []
    for f in [*files, path]:
        args += ["--config", str(f)]
    return collector(text, args=args, env=env)


def local_overlay(ports, exporters, pipelines=None):
    service = {"extensions": ["health_check"], "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}}
    if pipelines:
        service["pipelines"] = pipelines
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"},
                                             "http": {"endpoint": f"127.0.0.1:{ports.http}"}}}},
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
        "service": service,
    }


def test_seed_001_jaeger_exporter_runs(collector, jaeger, tmp_path):
    ports = Ports.new()
    overlay = local_overlay(ports, {"jaeger": {"endpoint": f"127.0.0.1:{jaeger.port}"}},
                            {"traces": {"exporters": ["jaeger"]}})
    run_merged(collector, tmp_path, [TESTDATA / "base.yaml", SEEDS / "001_exporters_jaeger.fragment.yaml"], overlay)
    one_span(ports.grpc, "seed-001")
    [batch] = jaeger.ok_batches(1)
    assert batch.process.service_name == "shop"
    assert [s.operation_name for s in batch.spans] == ["seed-001"]


def test_seed_003_helm_gateway_loki_runs(collector, loki, tmp_path):
    ports = Ports.new()
    unused = free_port()
    overlay = local_overlay(ports, {
        "loki": {"endpoint": loki.url},
        "otlp/trace": {"endpoint": f"http://127.0.0.1:{unused}"},
        "prometheusremotewrite": {"endpoint": f"http://127.0.0.1:{unused}/api/v1/write"},
    })
    run_merged(collector, tmp_path, [TESTDATA / "helm_chart_config.yaml", SEEDS / "003_helm_gateway_loki.chart.yaml"],
               overlay, env={"MY_POD_IP": "127.0.0.1"})

    def emit(provider):
        provider.get_logger("app").emit(body="order placed", severity_number=SeverityNumber.WARN,
                                        attributes={"container": "api", "order": 7})

    send_logs(ports.grpc, emit, {"service.name": "checkout", "service.namespace": "shop",
                                 "service.instance.id": "pod-3"})
    got = entries(loki.received.wait(1))
    assert len(got) == 1
    tenant, labels, e = got[0]
    # seed 003: exporter label off, job on; its processors add the container and service hints
    assert labels == ('{container="api", instance="pod-3", job="shop/checkout", level="WARN", '
                      'service_name="checkout", service_namespace="shop"}')
    line = json.loads(e.line)
    assert line["body"] == "order placed" and line["attributes"] == {"order": 7}
