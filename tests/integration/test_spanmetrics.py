"""The spanmetrics connector end to end, against a real Prometheus (2.42).

The Python SDK sends spans of two services (several operations and kinds,
some with ERROR status, exact start and end times) through
`traces: [otlp] -> [spanmetrics]` and `metrics: [spanmetrics] -> [prometheus]`
with `enable_open_metrics`; a real Prometheus with exemplar storage scrapes
the exporter. PromQL through its HTTP API must return exactly the expected
series, labels, call counts and histogram counts, and `query_exemplars` must
return exemplars that point at the spans that were sent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
import requests
from conftest import config_yaml, free_port
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from test_prometheus_exporter import Prometheus

pytestmark = [pytest.mark.prometheus]

OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

# (service, span name, kind, error, durations in ms)
SPANS = [
    ("frontend", "GET /cart", SpanKind.SERVER, False, [3, 30, 300]),
    ("frontend", "GET /cart", SpanKind.SERVER, True, [1500]),
    ("frontend", "redis GET", SpanKind.CLIENT, False, [1, 7]),
    ("payment", "charge", SpanKind.SERVER, False, [20, 20]),
    ("payment", "charge", SpanKind.SERVER, True, [60]),
    ("payment", "publish", SpanKind.PRODUCER, False, [5]),
]


def send_spans(grpc_port: int) -> set[tuple[str, str]]:
    """Sends SPANS; returns the (trace_id, span_id) hex pairs sent."""
    sent = set()
    base = time.time_ns() - 5_000_000_000
    for service in ("frontend", "payment"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(
            OTLPSpanExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True)))
        tracer = provider.get_tracer("it.spanmetrics")
        for svc, name, kind, error, durations in SPANS:
            if svc != service:
                continue
            for ms in durations:
                span = tracer.start_span(name, kind=kind, start_time=base)
                if error:
                    span.set_status(Status(StatusCode.ERROR, "boom"))
                ctx = span.get_span_context()
                sent.add((f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"))
                span.end(end_time=base + ms * 1_000_000)
        provider.force_flush()
        provider.shutdown()
    return sent


@pytest.fixture
def spanmetrics_stack(collector, ports, tmp_path):
    prom_port = free_port()
    cfg = config_yaml(
        ports,
        exporters={"prometheus": {"endpoint": f"127.0.0.1:{prom_port}", "enable_open_metrics": True}},
        pipelines={"traces": {"receivers": ["otlp"], "exporters": ["spanmetrics"]},
                   "metrics": {"receivers": ["spanmetrics"], "exporters": ["prometheus"]}},
    )
    cfg += "connectors:\n  spanmetrics:\n    metrics_flush_interval: 1s\n    exemplars:\n      enabled: true\n"
    c = collector(cfg)
    server = Prometheus(tmp_path / "prom", f"127.0.0.1:{prom_port}")
    yield c, prom_port, server
    server.stop()


def expected_calls() -> dict[tuple, int]:
    want: dict[tuple, int] = {}
    for svc, name, kind, error, durations in SPANS:
        key = (svc, name, f"SPAN_KIND_{kind.name}", "STATUS_CODE_ERROR" if error else "STATUS_CODE_UNSET")
        want[key] = want.get(key, 0) + len(durations)
    return want


def series_key(metric: dict) -> tuple:
    return (metric["service_name"], metric["span_name"], metric["span_kind"], metric["status_code"])


def sink_calls(reqs) -> dict[tuple, int]:
    """(service, span name, kind, status) -> calls, from the connector's OTLP output."""
    calls = {}
    for req in reqs:
        for rm in req.resource_metrics:
            for m in (m for sm in rm.scope_metrics for m in sm.metrics):
                if m.name == "traces.span.metrics.calls":
                    assert m.sum.is_monotonic
                    for p in m.sum.data_points:
                        a = {kv.key: kv.value.string_value for kv in p.attributes}
                        calls[(a["service.name"], a["span.name"], a["span.kind"], a["status.code"])] = p.as_int
    return calls


def test_span_metrics_reach_prometheus_with_exact_series_counts_and_exemplars(spanmetrics_stack, ports):
    _, prom_port, prometheus = spanmetrics_stack
    sent = send_spans(ports.grpc)
    want = expected_calls()

    got = prometheus.wait_query("traces_span_metrics_calls_total", want=len(want))
    assert len(got) == len(want), got
    assert {series_key(s["metric"]): float(s["value"][1]) for s in got} == want
    for s in got:
        assert set(s["metric"]) == {"__name__", "instance", "job", "service_name", "span_name", "span_kind",
                                    "status_code"}, s["metric"]
        assert s["metric"]["job"] == s["metric"]["service_name"]

    counts = prometheus.wait_query("traces_span_metrics_duration_milliseconds_count", want=len(want))
    assert {series_key(s["metric"]): float(s["value"][1]) for s in counts} == want
    cart = 'service_name="frontend",span_name="GET /cart",status_code="STATUS_CODE_UNSET"'
    total = prometheus.query(f"traces_span_metrics_duration_milliseconds_sum{{{cart}}}")
    assert float(total[0]["value"][1]) == pytest.approx(333.0)
    for le, n in (("2", 0), ("4", 1), ("50", 2), ("200", 2), ("400", 3), ("+Inf", 3)):
        b = prometheus.query(f'traces_span_metrics_duration_milliseconds_bucket{{{cart},le="{le}"}}')
        assert float(b[0]["value"][1]) == n, (le, b)
    errors = prometheus.query('sum by (service_name) (traces_span_metrics_calls_total{status_code="STATUS_CODE_ERROR"})')
    assert {s["metric"]["service_name"]: float(s["value"][1]) for s in errors} == {"frontend": 1, "payment": 1}

    # exemplars: stored by Prometheus from the OpenMetrics scrape, each one a span we sent
    now = time.time()
    deadline = time.monotonic() + 20
    exemplars = []
    while time.monotonic() < deadline and not exemplars:
        r = requests.get(f"http://127.0.0.1:{prometheus.port}/api/v1/query_exemplars",
                         params={"query": "traces_span_metrics_duration_milliseconds_bucket",
                                 "start": now - 3600, "end": now + 3600}, timeout=5)
        r.raise_for_status()
        exemplars = [e for group in r.json()["data"] for e in group["exemplars"]]
        time.sleep(0.5)
    assert exemplars, "Prometheus stored no exemplar"
    for e in exemplars:
        assert (e["labels"]["trace_id"], e["labels"]["span_id"]) in sent, e
    counter_ex = requests.get(f"http://127.0.0.1:{prometheus.port}/api/v1/query_exemplars",
                              params={"query": "traces_span_metrics_calls_total", "start": now - 3600,
                                      "end": now + 3600}, timeout=5).json()["data"]
    assert {g["seriesLabels"]["span_name"] for g in counter_ex} == {"GET /cart", "redis GET", "charge", "publish"}

    targets = requests.get(f"http://127.0.0.1:{prometheus.port}/api/v1/targets", timeout=5).json()
    active = targets["data"]["activeTargets"]
    assert [(t["health"], t["lastError"]) for t in active] == [("up", "")], active


def query_exemplars(prometheus: Prometheus, promql: str) -> list:
    now = time.time()
    r = requests.get(f"http://127.0.0.1:{prometheus.port}/api/v1/query_exemplars",
                     params={"query": promql, "start": now - 3600, "end": now + 3600}, timeout=5)
    r.raise_for_status()
    return r.json()["data"]


def test_stack_shape_remote_write_carries_span_metrics_and_exemplars(collector, ports, tmp_path):
    """The Compose stack's shape: `metrics: [otlp, spanmetrics] -> [prometheusremotewrite]`,
    with the connector's defaults except a short flush interval and exemplars on."""
    server = Prometheus(tmp_path / "prom-rw", "127.0.0.1:9")  # receives remote write
    try:
        exporter = {"endpoint": f"http://127.0.0.1:{server.port}/api/v1/write",
                    "retry_on_failure": {"initial_interval": "100ms"}}
        cfg = config_yaml(ports, exporters={"prometheusremotewrite": exporter},
                          pipelines={"traces": {"receivers": ["otlp"], "exporters": ["spanmetrics"]},
                                     "metrics": {"receivers": ["otlp", "spanmetrics"],
                                                 "exporters": ["prometheusremotewrite"]}})
        cfg += "connectors:\n  spanmetrics:\n    metrics_flush_interval: 1s\n    exemplars:\n      enabled: true\n"
        collector(cfg)
        sent = send_spans(ports.grpc)
        want = expected_calls()
        got = server.wait_query("traces_span_metrics_calls_total", want=len(want))
        assert {series_key(s["metric"]): float(s["value"][1]) for s in got} == want
        buckets = server.wait_query('traces_span_metrics_duration_milliseconds_bucket{le="+Inf"}', want=len(want))
        assert {series_key(s["metric"]): float(s["value"][1]) for s in buckets} == want
        deadline = time.monotonic() + 20
        groups = []
        while time.monotonic() < deadline and not groups:
            groups = query_exemplars(server, "traces_span_metrics_duration_milliseconds_bucket")
            time.sleep(0.5)
        exemplars = [e for g in groups for e in g["exemplars"]]
        assert exemplars, "remote write delivered no exemplar"
        assert all((e["labels"]["trace_id"], e["labels"]["span_id"]) in sent for e in exemplars), exemplars
    finally:
        server.stop()


def test_open_metrics_exposition_is_valid_and_text_stays_plain(spanmetrics_stack, ports):
    _, prom_port, _ = spanmetrics_stack
    sent = send_spans(ports.grpc)
    url = f"http://127.0.0.1:{prom_port}/metrics"
    deadline = time.monotonic() + 10
    om = ""
    while time.monotonic() < deadline and "traces_span_metrics_calls_total" not in om:
        r = requests.get(url, headers={"Accept": OM_ACCEPT}, timeout=5)
        om = r.text
        time.sleep(0.2)
    assert r.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert om.endswith("# EOF\n")
    # prometheus_client's OpenMetrics parser is strict: it rejects a malformed
    # line, exemplar, missing EOF or a counter sample without _total
    families = {f.name: f for f in text_string_to_metric_families(om)}
    assert families["traces_span_metrics_calls"].type == "counter"
    assert families["traces_span_metrics_duration_milliseconds"].type == "histogram"
    found = [s.exemplar for f in families.values() for s in f.samples if s.exemplar]
    assert found and all((e.labels["trace_id"], e.labels["span_id"]) in sent for e in found)

    text = requests.get(url, timeout=5)
    assert text.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert " # {" not in text.text and "# EOF" not in text.text
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package"
    out = subprocess.run([promtool, "check", "metrics"], input=text.text.encode(), capture_output=True, timeout=30)
    findings = [l for l in (out.stdout + out.stderr).decode().splitlines() if l.strip()]
    # the names are otelcol-contrib's, which dashboards query: promtool's lint
    # prefers seconds, and that is the only thing it may say
    assert all('use base unit "seconds" instead of "milliseconds"' in l for l in findings), findings
    assert out.returncode in (0, 3), findings


def test_shutdown_drains_traces_into_the_connector_before_it_flushes_into_the_metrics_pipeline(
        collector, ports, grpc_sink):
    """Staged stop across a connector: `traces: [otlp] -> [batch] -> [spanmetrics]`,
    `metrics: [spanmetrics] -> [batch] -> [otlp]` with an hour-long flush interval
    and batch timeouts: every span sent before SIGTERM is counted in the one
    flush that happens at shutdown, and that flush reaches the sink."""
    from conftest import otlp_exporter

    cfg = config_yaml(
        ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
        processors={"batch/slow": {"timeout": "1h", "send_batch_size": 100000}},
        pipelines={"traces": {"receivers": ["otlp"], "processors": ["batch/slow"], "exporters": ["spanmetrics"]},
                   "metrics": {"receivers": ["spanmetrics"], "processors": ["batch/slow"], "exporters": ["otlp"]}},
    )
    cfg += "connectors:\n  spanmetrics:\n    metrics_flush_interval: 1h\n"
    c = collector(cfg)
    send_spans(ports.grpc)
    time.sleep(0.5)
    assert grpc_sink.item_count("metrics") == 0, "nothing is flushed before shutdown"
    assert c.terminate() == 0
    assert sink_calls(grpc_sink.wait_for("metrics", 2, timeout=5)) == expected_calls()


def test_validate_reports_connector_misuse_with_its_line(tmp_path):
    from conftest import COLLECTOR_BIN

    def validate(text: str) -> subprocess.CompletedProcess:
        path = tmp_path / "c.yaml"
        path.write_text(text)
        return subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True,
                              timeout=30)

    head = ("receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\n"
            "connectors:\n  spanmetrics:\n    histogram:\n      unit: us\nservice:\n  pipelines:\n")
    graph = "    traces:\n      receivers: [otlp]\n      exporters: [spanmetrics]\n"
    r = validate(head + graph + "    metrics:\n      receivers: [spanmetrics]\n      exporters: [debug]\n")
    assert r.returncode == 1
    assert re.search(r"^\s*connectors\.spanmetrics\.histogram\.unit: unknown value 'us'; use one of: ms, s "
                     r"\(at .*c\.yaml:10:\d+\)$", r.stderr, re.M), r.stderr
    r = validate(head.replace("      unit: us\n", "") + graph
                 + "    logs:\n      receivers: [spanmetrics]\n      exporters: [debug]\n")
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert any(l.strip().startswith('service.pipelines.logs.receivers.0: connector "spanmetrics" cannot be a receiver '
                                    'of a logs pipeline; it connects traces -> metrics') and "c.yaml:16:" in l
               for l in lines), r.stderr
    assert any(l.strip().startswith('service.pipelines.traces.exporters.0: connector "spanmetrics" is used as an '
                                    'exporter of this traces pipeline but no metrics pipeline') and "c.yaml:14:" in l
               for l in lines), r.stderr
    ok = head.replace("      unit: us\n", "      unit: ms\n") + (
        "    traces:\n      receivers: [otlp]\n      exporters: [spanmetrics]\n"
        "    metrics:\n      receivers: [spanmetrics]\n      exporters: [debug]\n")
    r = validate(ok)
    assert r.returncode == 0, r.stderr
    r = validate(ok.replace("    metrics:\n      receivers: [spanmetrics]", "    metrics:\n      receivers: [otlp]"))
    assert r.returncode == 1
    assert "service.pipelines.traces.exporters.0: connector \"spanmetrics\" is used as an exporter of this traces " \
           "pipeline but no metrics pipeline lists it as a receiver" in r.stderr, r.stderr

    listed = subprocess.run([str(COLLECTOR_BIN), "components"], capture_output=True, text=True, timeout=30).stdout
    assert re.search(r"^connector\s+spanmetrics\s+traces->metrics\s*$", listed, re.M), listed
    assert re.search(r"^connector\s+span_metrics\s+traces->metrics\s*$", listed, re.M), listed


def test_one_connector_joins_two_traces_pipelines_to_two_metrics_pipelines(collector, ports, grpc_sink):
    """otelcol semantics: one spanmetrics instance is shared by the traces
    pipelines that export to it (a span reaching it through both is counted
    twice) and fans out to every metrics pipeline that receives from it."""
    from conftest import GrpcSink, otlp_exporter

    second = GrpcSink()
    try:
        cfg = config_yaml(
            ports, exporters={"otlp/a": otlp_exporter(grpc_sink.port), "otlp/b": otlp_exporter(second.port)},
            pipelines={"traces/one": {"receivers": ["otlp"], "exporters": ["spanmetrics"]},
                       "traces/two": {"receivers": ["otlp"], "exporters": ["spanmetrics"]},
                       "metrics/a": {"receivers": ["spanmetrics"], "exporters": ["otlp/a"]},
                       "metrics/b": {"receivers": ["spanmetrics"], "exporters": ["otlp/b"]}},
        )
        cfg += "connectors:\n  spanmetrics:\n    metrics_flush_interval: 1h\n"
        c = collector(cfg)
        send_spans(ports.grpc)
        time.sleep(0.5)
        assert c.terminate() == 0
        doubled = {k: 2 * v for k, v in expected_calls().items()}
        for sink in (grpc_sink, second):
            assert sink_calls(sink.wait_for("metrics", 2, timeout=5)) == doubled, sink.name
    finally:
        second.stop()
