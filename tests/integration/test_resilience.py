"""The collector under backend and memory pressure (core guarantees only;
the outage, kill -9 and overload suites belong with the reliability work).

- An exporter whose endpoint does not resolve, or whose backend is not up
  yet, does not stop the collector from starting; data accepted meanwhile
  is delivered once the backend appears.
- When the pipeline refuses (memory_limiter above its soft limit), OTLP/HTTP
  answers 503 with Retry-After and a google.rpc.Status body, gRPC answers
  UNAVAILABLE, and the refusal is counted in otelcol_receiver_refused_spans.
"""

from __future__ import annotations

import time

import grpc
import pytest
import requests
from conftest import GrpcSink, config_yaml, free_port, otlp_exporter, pipeline
from otlp_util import grpc_export, make_span, parse_prometheus, sample_value, trace_request

FAST_RETRY = {"retry_on_failure": {"initial_interval": "100ms", "max_interval": "200ms", "max_elapsed_time": "60s"}}


def test_starts_with_an_unresolvable_endpoint(collector, ports):
    give_up = {"retry_on_failure": {"initial_interval": "100ms", "max_interval": "200ms", "max_elapsed_time": "1s"}}
    cfg = config_yaml(ports, exporters={"otlp": {"endpoint": "otelstack-backend.invalid:4317", "tls": {"insecure": True}, **give_up}},
                      pipelines={"traces": pipeline(["otlp"])})
    c = collector(cfg)
    grpc_export(ports.grpc, trace_request([make_span("queued-while-unresolvable")]))
    assert requests.get(f"http://127.0.0.1:{ports.health}/", timeout=5).status_code == 200
    # after max_elapsed_time the span is dropped, and the drop is counted, not silent
    deadline = time.monotonic() + 15
    failed = None
    while time.monotonic() < deadline and failed != 1:
        time.sleep(0.2)
        text = requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text
        failed = sample_value(parse_prometheus(text), "otelcol_exporter_send_failed_spans_total", exporter="otlp")
    assert failed == 1
    assert "otelstack-backend.invalid" in c.stderr()
    assert c.terminate() == 0


def test_data_accepted_before_the_backend_starts_is_delivered(collector, ports):
    sink_port = free_port()
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(sink_port, **FAST_RETRY)},
                      pipelines={"traces": pipeline(["otlp"])})
    c = collector(cfg)
    spans = [make_span(f"early-{i}") for i in range(5)]
    grpc_export(ports.grpc, trace_request(spans))
    time.sleep(1.0)  # several failed attempts against a closed port
    late = GrpcSink(port=sink_port)
    try:
        late.wait_for("traces", 5, timeout=20)
        assert sorted(sp.name for _, _, sp in late.spans()) == sorted(s.name for s in spans)
        assert sorted(sp.span_id for _, _, sp in late.spans()) == sorted(s.span_id for s in spans)
    finally:
        late.stop()
    assert c.terminate() == 0


@pytest.fixture
def refusing_collector(collector, ports, grpc_sink):
    # a 2 MiB limit is far below the process's resident memory: every check refuses
    limiter = {"memory_limiter": {"check_interval": "50ms", "limit_mib": 2, "spike_limit_mib": 1}}
    cfg = config_yaml(ports, processors=limiter, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      pipelines={"traces": pipeline(["otlp"], ["memory_limiter"])})
    c = collector(cfg)
    time.sleep(0.3)
    return c


def test_refusal_is_503_with_retry_after_over_http(refusing_collector, ports, grpc_sink):
    body = trace_request([make_span("refused")]).SerializeToString()
    r = requests.post(f"{ports.http_url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["Content-Type"] == "application/x-protobuf"
    from google.rpc import status_pb2

    status = status_pb2.Status.FromString(r.content)
    assert status.code == 14 and "memory" in status.message
    r = requests.post(f"{ports.http_url}/v1/traces", json={"resourceSpans": []}, timeout=10)
    assert r.status_code == 200, "an empty request carries nothing to refuse"
    grpc_sink.assert_quiet("traces", 0.5, 0)


def test_refusal_is_unavailable_over_grpc_and_counted(refusing_collector, ports, grpc_sink):
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(ports.grpc, trace_request([make_span("a"), make_span("b")]))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    text = requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text
    refused = sample_value(parse_prometheus(text), "otelcol_receiver_refused_spans_total", receiver="otlp", transport="grpc")
    assert refused == 2
