"""Collector chains: otelstack -> otelstack, otelstack -> Rotel, Rotel -> otelstack.

Hand-built OTLP requests that use every span field (ids, parent, trace state,
flags, kind, every attribute type, events, links, status, dropped counts,
resource, scope) go through the chain, and what reaches the gRPC sink must be
equal to what was sent, message for message. One test sends through Rotel
alone, to show that the sink and fixtures are sound when a chain test fails.
"""

from __future__ import annotations

import time

import pytest
from conftest import Ports, config_yaml, otlp_exporter, otlphttp_exporter, pipeline, rotel_to_grpc_sink_args
from opentelemetry.proto.logs.v1 import logs_pb2
from otlp_util import grpc_export, kvs, log_request, rich_span, trace_request

pytestmark = [pytest.mark.rotel]

RESOURCE = {"service.name": "chain-svc", "host.name": "h1", "k8s.pod.uid": "abc", "res.num": 12}


def chain_request(n=3):
    spans = [rich_span(f"chain-{i}") for i in range(n)]
    return spans, trace_request(spans, resource=RESOURCE, scope="chain.scope", scope_version="4.5.6")


def assert_arrived_intact(sink, sent_request, spans):
    sink.wait_for("traces", len(spans))
    got = sink.spans()
    assert len(got) == len(spans), f"expected {len(spans)} spans, got {len(got)}"
    by_id = {sp.span_id: (res, scope, sp) for res, scope, sp in got}
    sent_rs = sent_request.resource_spans[0]
    for s in spans:
        assert s.span_id in by_id, f"span {s.name} missing"
        res, scope, sp = by_id[s.span_id]
        assert sp == s, f"span {s.name} changed on the way:\nsent:\n{s}\ngot:\n{sp}"
        assert res == RESOURCE
        assert scope == sent_rs.scope_spans[0].scope


def otelstack_relay(collector, next_hop: dict, pipelines=("traces",)):
    """A collector: otlp receiver -> batch -> the given exporter."""
    ports = Ports.new()
    cfg = config_yaml(ports, processors={"batch": {"timeout": "100ms"}}, exporters=next_hop,
                      pipelines={p: pipeline(list(next_hop), ["batch"]) for p in pipelines})
    collector(cfg)
    return ports


def test_sink_sanity_via_rotel(rotel, grpc_sink):
    """Harness check without otelstack: client -> Rotel -> sink keeps spans intact."""
    r = rotel(rotel_to_grpc_sink_args(grpc_sink))
    spans, req = chain_request()
    grpc_export(r.grpc_port, req)
    assert_arrived_intact(grpc_sink, req, spans)


def test_otlp_grpc_to_second_otelstack(collector, grpc_sink):
    second = otelstack_relay(collector, {"otlp": otlp_exporter(grpc_sink.port)}, ("traces", "logs"))
    first = otelstack_relay(collector, {"otlp": otlp_exporter(second.grpc)}, ("traces", "logs"))
    spans, req = chain_request()
    grpc_export(first.grpc, req)
    assert_arrived_intact(grpc_sink, req, spans)
    # logs take the same path
    rec = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_number=13, severity_text="WARN",
                             attributes=kvs({"k": [1, 2]}), trace_id=spans[0].trace_id, span_id=spans[0].span_id)
    rec.body.kvlist_value.values.extend(kvs({"msg": "chained", "n": 1}))
    grpc_export(first.grpc, log_request([rec], resource=RESOURCE), signal="logs")
    grpc_sink.wait_for("logs", 1)
    [(res, _, lr)] = grpc_sink.log_records()
    assert lr == rec and res == RESOURCE


def test_otlphttp_to_second_otelstack(collector, grpc_sink):
    second = otelstack_relay(collector, {"otlp": otlp_exporter(grpc_sink.port)})
    first = otelstack_relay(collector, {"otlphttp": otlphttp_exporter(second.http)})
    spans, req = chain_request()
    grpc_export(first.grpc, req)
    assert_arrived_intact(grpc_sink, req, spans)


def test_otlp_to_rotel(collector, rotel, grpc_sink):
    r = rotel(rotel_to_grpc_sink_args(grpc_sink))
    first = otelstack_relay(collector, {"otlp": otlp_exporter(r.grpc_port)})
    spans, req = chain_request()
    grpc_export(first.grpc, req)
    assert_arrived_intact(grpc_sink, req, spans)


def test_otlphttp_to_rotel(collector, rotel, grpc_sink):
    r = rotel(rotel_to_grpc_sink_args(grpc_sink))
    first = otelstack_relay(collector, {"otlphttp": otlphttp_exporter(r.http_port)})
    spans, req = chain_request()
    grpc_export(first.grpc, req)
    assert_arrived_intact(grpc_sink, req, spans)


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_rotel_to_otelstack(collector, rotel, grpc_sink, protocol):
    """Rotel as the client: its OTLP exporter (gRPC or HTTP/protobuf, gzip) feeds otelstack's receiver."""
    ours = otelstack_relay(collector, {"otlp": otlp_exporter(grpc_sink.port)})
    port = ours.grpc if protocol == "grpc" else ours.http
    r = rotel(["--exporter", "otlp", "--otlp-exporter-endpoint", f"http://127.0.0.1:{port}",
               "--otlp-exporter-protocol", protocol, "--otlp-exporter-compression", "gzip",
               "--batch-timeout", "100ms"])
    spans, req = chain_request()
    grpc_export(r.grpc_port, req)
    assert_arrived_intact(grpc_sink, req, spans)
