"""Process lifecycle and self-observability.

- SIGTERM while a client sends steadily, with a 10 s batch timeout: every span
  the client got a success for reaches the sink before the process exits, and
  the exit code is 0.
- health_check answers 200 while running and stops answering after exit.
- Self metrics (Prometheus text at service.telemetry.metrics.address):
  otelcol_receiver_accepted_* per transport equal what was sent, and
  otelcol_exporter_sent_* equal what arrived; a failing exporter counts
  otelcol_exporter_send_failed_spans.
"""

from __future__ import annotations

import threading
import time

import grpc
import requests
from conftest import config_yaml, free_port, otlp_exporter, pipeline
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from otlp_util import grpc_export, log_request, make_span, parse_prometheus, sample_value, trace_request

ALL = ("traces", "metrics", "logs")


def test_sigterm_flushes_every_acknowledged_span(collector, ports, grpc_sink):
    cfg = config_yaml(ports, processors={"batch": {"timeout": "10s", "send_batch_size": 100000}},
                      exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      pipelines={"traces": pipeline(["otlp"], ["batch"])})
    c = collector(cfg)
    acked, errors = [], []
    stop = threading.Event()

    def sender():
        deadline = time.monotonic() + 20
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as ch:
            stub = trace_service_pb2_grpc.TraceServiceStub(ch)
            i = 0
            while not stop.is_set() and time.monotonic() < deadline:
                spans = [make_span(f"steady-{i}-{j}") for j in range(3)]
                try:
                    stub.Export(trace_request(spans), timeout=5)
                except grpc.RpcError as e:  # the collector is going away: stop sending
                    errors.append(e.code())
                    return
                acked.extend(s.span_id for s in spans)
                i += 1
                time.sleep(0.002)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 150 and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.01)
    assert len(acked) >= 150, f"only {len(acked)} spans acknowledged; errors {errors}"
    assert grpc_sink.item_count("traces") == 0, "the 10s batch timeout should still hold every span"
    rc = c.terminate()  # the sender keeps going during shutdown
    stop.set()
    t.join(10)
    assert rc == 0, f"exit code {rc}; stderr:\n{c.stderr()[-3000:]}"
    arrived = [sp.span_id for _, _, sp in grpc_sink.spans()]
    missing = set(acked) - set(arrived)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged spans never reached the sink"
    assert len(arrived) == len(set(arrived)), "some spans were delivered twice"


def test_health_check_while_running_and_after_exit(collector, ports, grpc_sink):
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      pipelines={"traces": pipeline(["otlp"])})
    c = collector(cfg)
    url = f"http://127.0.0.1:{ports.health}/"
    for _ in range(3):
        assert requests.get(url, timeout=5).status_code == 200
    assert c.terminate() == 0
    try:
        code = requests.get(url, timeout=2).status_code
    except requests.ConnectionError:
        code = None
    assert code != 200, "health_check still says 200 after the process exited"


def scrape(ports) -> tuple[list, str]:
    url = f"http://127.0.0.1:{ports.metrics}/metrics"
    try:
        r = requests.get(url, timeout=5)
    except requests.ConnectionError as e:
        raise AssertionError(f"self metrics endpoint {url} not reachable: {e}") from None
    assert r.status_code == 200, f"GET {url} -> {r.status_code}"
    return parse_prometheus(r.text), r.text


def wait_metrics(ports, expected: dict, timeout: float = 10.0):
    """Poll until every (name, labels) in `expected` has its value; fail with the otelcol_ lines otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        samples, text = scrape(ports)
        actual = {k: sample_value(samples, k[0], **dict(k[1])) for k in expected}
        if actual == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    diff = {f"{k[0]}{dict(k[1])}": (actual[k], v) for k, v in expected.items() if actual[k] != v}
    ours = "\n".join(line for line in text.splitlines() if line.startswith("otelcol_"))
    assert not diff, f"self metrics (actual, expected): {diff}\n{ours}"


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


def test_self_metrics_match_traffic(collector, ports, grpc_sink):
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      pipelines={s: pipeline(["otlp"]) for s in ALL})
    collector(cfg)
    for i in range(3):  # 21 spans over gRPC
        grpc_export(ports.grpc, trace_request([make_span(f"g{i}-{j}") for j in range(7)]))
    for i in range(2):  # 8 spans over HTTP
        body = trace_request([make_span(f"h{i}-{j}") for j in range(4)]).SerializeToString()
        r = requests.post(f"{ports.http_url}/v1/traces", data=body, timeout=10,
                          headers={"Content-Type": "application/x-protobuf"})
        assert r.status_code == 200
    records = []
    for i in range(5):  # 5 log records over gRPC
        rec = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_number=9)
        rec.body.string_value = f"log {i}"
        records.append(rec)
    grpc_export(ports.grpc, log_request(records), signal="logs")
    now = time.time_ns()
    mreq = metrics_service_pb2.ExportMetricsServiceRequest()  # 3 points over HTTP
    sm = mreq.resource_metrics.add().scope_metrics.add()
    g = sm.metrics.add(name="it.gauge").gauge
    g.data_points.add(time_unix_nano=now, as_int=1)
    g.data_points.add(time_unix_nano=now, as_int=2)
    s = sm.metrics.add(name="it.sum").sum
    s.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
    s.data_points.add(time_unix_nano=now, as_double=1.5)
    r = requests.post(f"{ports.http_url}/v1/metrics", data=mreq.SerializeToString(), timeout=10,
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200

    grpc_sink.wait_for("traces", 29)
    grpc_sink.wait_for("logs", 5)
    grpc_sink.wait_for("metrics", 2)
    arrived = grpc_sink.item_count("traces")
    assert arrived == 29
    wait_metrics(ports, {
        key("otelcol_receiver_accepted_spans_total", receiver="otlp", transport="grpc"): 21.0,
        key("otelcol_receiver_accepted_spans_total", receiver="otlp", transport="http"): 8.0,
        key("otelcol_exporter_sent_spans_total", exporter="otlp"): float(arrived),
        key("otelcol_receiver_accepted_log_records_total", receiver="otlp", transport="grpc"): 5.0,
        key("otelcol_exporter_sent_log_records_total", exporter="otlp"): 5.0,
        key("otelcol_receiver_accepted_metric_points_total", receiver="otlp", transport="http"): 3.0,
        key("otelcol_exporter_sent_metric_points_total", exporter="otlp"): 3.0,
    })
    samples, _ = scrape(ports)
    for name in ("otelcol_receiver_refused_spans_total", "otelcol_exporter_send_failed_spans_total"):
        assert sample_value(samples, name) in (None, 0.0), f"{name} should be 0"


def test_self_metrics_count_send_failures(collector, ports):
    dead = free_port()  # nothing listens there
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(dead, retry_on_failure={"enabled": False},
                                                              timeout="2s")},
                      pipelines={"traces": pipeline(["otlp"])})
    collector(cfg)
    grpc_export(ports.grpc, trace_request([make_span(f"f{j}") for j in range(4)]))
    wait_metrics(ports, {
        key("otelcol_receiver_accepted_spans_total", receiver="otlp", transport="grpc"): 4.0,
        key("otelcol_exporter_send_failed_spans_total", exporter="otlp"): 4.0,
    }, timeout=15)
    samples, _ = scrape(ports)
    assert sample_value(samples, "otelcol_exporter_sent_spans_total", exporter="otlp") in (None, 0.0)
