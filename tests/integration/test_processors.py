"""Processors end to end: resource, attributes and batch.

Spans (and for attributes also log records) are built by hand with exact
attribute types, sent over OTLP/gRPC to the collector, and the attributes
arriving at the gRPC sink are compared exactly, types included.

Expected values follow otelcol-contrib's processors (attraction package):
`hash` is the lowercase hex SHA-256 (since v0.98; SHA-1 before) of the UTF-8
string, of the 8-byte little-endian two's complement for ints; `extract`
writes every named group as a string attribute, overwriting; `convert`
parses strings with Go's ParseInt/ParseFloat and leaves unparsable values as
they were; insert/update/upsert/delete as documented.
"""

from __future__ import annotations

import hashlib
import struct
import time

from conftest import config_yaml, otlp_exporter, pipeline
from opentelemetry.proto.logs.v1 import logs_pb2
from otlp_util import grpc_export, kvs, log_request, make_span, span_count, trace_request, typed_attrs

SINK_TIMEOUT = 10


def start(collector, ports, sink, processors: dict, signals=("traces",)):
    names = list(processors)
    cfg = config_yaml(
        ports, processors=processors, exporters={"otlp": otlp_exporter(sink.port)},
        pipelines={s: pipeline(["otlp"], names) for s in signals},
    )
    return collector(cfg)


def sha256_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_resource_processor_upsert_insert_delete(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {"resource": {"attributes": [
        {"key": "deployment.environment", "value": "production", "action": "upsert"},  # overwrites
        {"key": "cluster", "value": "eu-1", "action": "upsert"},                      # adds
        {"key": "service.name", "value": "ignored", "action": "insert"},              # exists: kept
        {"key": "team", "value": "core", "action": "insert"},                         # adds
        {"key": "replicas", "value": 3, "action": "insert"},                          # typed int
        {"key": "secret.token", "action": "delete"},
        {"key": "not.there", "action": "delete"},
        {"key": "host.id", "value": "h-1", "action": "update"},                       # exists: updated
        {"key": "absent.update", "value": "x", "action": "update"},                   # absent: nothing
    ]}})
    res = {"service.name": "checkout", "deployment.environment": "staging", "secret.token": "s3cr3t",
           "host.id": "old", "keep.me": 1.5}
    spans = [make_span(f"s{i}", attributes={"span.attr": i}) for i in range(3)]
    grpc_export(ports.grpc, trace_request(spans, resource=res))
    grpc_sink.wait_for("traces", 3, SINK_TIMEOUT)
    got = grpc_sink.requests("traces")
    seen = []
    for req in got:
        for rs in req.resource_spans:
            assert typed_attrs(rs.resource.attributes) == {
                "service.name": ("string_value", "checkout"),
                "deployment.environment": ("string_value", "production"),
                "cluster": ("string_value", "eu-1"),
                "team": ("string_value", "core"),
                "replicas": ("int_value", 3),
                "host.id": ("string_value", "h-1"),
                "keep.me": ("double_value", 1.5),
            }
            for ss in rs.scope_spans:
                for sp in ss.spans:
                    # the resource processor must not touch span attributes
                    assert typed_attrs(sp.attributes) == {"span.attr": ("int_value", int(sp.name[1:]))}
                    seen.append(sp.span_id)
    assert seen == [s.span_id for s in spans]


ATTRIBUTE_ACTIONS = [
    {"key": "env", "value": "prod", "action": "insert"},               # absent -> inserted
    {"key": "user.id", "value": "ignored", "action": "insert"},        # present -> unchanged
    {"key": "http.status_code", "value": 500, "action": "update"},     # present -> 500 (int)
    {"key": "absent.update", "value": "x", "action": "update"},        # absent -> nothing
    {"key": "region", "value": "eu", "action": "upsert"},              # present -> replaced
    {"key": "zone", "value": "eu-1a", "action": "upsert"},             # absent -> inserted
    {"key": "sampled", "value": True, "action": "upsert"},             # typed bool
    {"key": "ratio", "value": 0.5, "action": "insert"},                # typed double
    {"key": "copied.user", "from_attribute": "user.id", "action": "insert"},
    {"key": "password", "action": "delete"},
    {"action": "delete", "pattern": "^debug\\..*"},                    # delete by key regex
    {"key": "user.email", "action": "hash"},
    {"key": "account.number", "action": "hash"},                       # int hashed
    {"key": "http.url", "action": "extract",
     "pattern": "^https?://[^/]+/api/(?P<api_version>v[0-9]+)/(?P<api_resource>[a-z]+)"},
    {"key": "retries", "action": "convert", "converted_type": "int"},      # "3" -> 3
    {"key": "latency", "action": "convert", "converted_type": "double"},   # "1.25" -> 1.25
    {"key": "code", "action": "convert", "converted_type": "string"},      # 404 -> "404"
    {"key": "not.a.number", "action": "convert", "converted_type": "int"},  # "abc" stays "abc"
    {"key": "flag", "action": "convert", "converted_type": "int"},         # true -> 1
]

INPUT_ATTRS = {
    "user.id": "u-1", "http.status_code": 200, "region": "us", "password": "hunter2",
    "debug.trace": "x", "debug.level": 3, "user.email": "george@deathstar.email", "account.number": 12345,
    "http.url": "https://shop.example/api/v2/orders?id=7", "api_version": "stale",
    "retries": "3", "latency": "1.25", "code": 404, "not.a.number": "abc", "flag": True,
}

EXPECTED_ATTRS = {
    "user.id": ("string_value", "u-1"),
    "env": ("string_value", "prod"),
    "http.status_code": ("int_value", 500),
    "region": ("string_value", "eu"),
    "zone": ("string_value", "eu-1a"),
    "sampled": ("bool_value", True),
    "ratio": ("double_value", 0.5),
    "copied.user": ("string_value", "u-1"),
    "user.email": ("string_value", sha256_hex(b"george@deathstar.email")),
    "account.number": ("string_value", sha256_hex(struct.pack("<q", 12345))),
    "http.url": ("string_value", "https://shop.example/api/v2/orders?id=7"),
    "api_version": ("string_value", "v2"),          # extract overwrites
    "api_resource": ("string_value", "orders"),
    "retries": ("int_value", 3),
    "latency": ("double_value", 1.25),
    "code": ("string_value", "404"),
    "not.a.number": ("string_value", "abc"),
    "flag": ("int_value", 1),
}


def test_attributes_processor_all_actions_on_spans(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {"attributes": {"actions": ATTRIBUTE_ACTIONS}})
    span = make_span("attr-span", attributes=INPUT_ATTRS)
    grpc_export(ports.grpc, trace_request([span], resource={"service.name": "svc", "password": "res-level"}))
    grpc_sink.wait_for("traces", 1, SINK_TIMEOUT)
    [(res, _, got)] = grpc_sink.spans()
    assert got.span_id == span.span_id
    assert typed_attrs(got.attributes) == EXPECTED_ATTRS
    # the attributes processor acts on span attributes, never on the resource
    assert res == {"service.name": "svc", "password": "res-level"}
    # the known otelcol example value, to pin the algorithm (SHA-256, not SHA-1)
    assert EXPECTED_ATTRS["user.email"][1] == "62d5e03d8fd5808e77aee5ebbd90cf7627a470ae0be9ffd10e8025a4ad0e1287"


def test_attributes_processor_on_logs(collector, ports, grpc_sink):
    start(collector, ports, grpc_sink, {"attributes": {"actions": ATTRIBUTE_ACTIONS}}, signals=("logs",))
    rec = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_number=9, attributes=kvs(INPUT_ATTRS))
    rec.body.string_value = "log with attributes"
    grpc_export(ports.grpc, log_request([rec]), signal="logs")
    grpc_sink.wait_for("logs", 1, SINK_TIMEOUT)
    [(_, _, got)] = grpc_sink.log_records()
    assert got.body.string_value == "log with attributes"
    assert typed_attrs(got.attributes) == EXPECTED_ATTRS


def test_processor_chain_order(collector, ports, grpc_sink):
    """Processors run in pipeline order: the second attributes processor sees the first one's output."""
    cfg = config_yaml(
        ports,
        processors={
            "attributes/first": {"actions": [{"key": "stage", "value": "one", "action": "insert"}]},
            "attributes/second": {"actions": [{"key": "stage", "value": "two", "action": "update"},
                                              {"key": "copy", "from_attribute": "stage", "action": "insert"}]},
            "resource": {"attributes": [{"key": "chained", "value": True, "action": "upsert"}]},
        },
        exporters={"otlp": otlp_exporter(grpc_sink.port)},
        pipelines={"traces": pipeline(["otlp"], ["attributes/first", "attributes/second", "resource"])},
    )
    collector(cfg)
    grpc_export(ports.grpc, trace_request([make_span("chain")]))
    grpc_sink.wait_for("traces", 1, SINK_TIMEOUT)
    [(res, _, got)] = grpc_sink.spans()
    assert typed_attrs(got.attributes) == {"stage": ("string_value", "two"), "copy": ("string_value", "two")}
    assert res["chained"] is True


def test_batch_send_batch_max_size_splits(collector, ports, grpc_sink):
    """25 spans in one request with send_batch_size 10 / send_batch_max_size 10
    leave as 10 and 10 at once, then the remaining 5 (below send_batch_size)
    when the 1s timeout fires, as otelcol's batch processor does."""
    start(collector, ports, grpc_sink,
          {"batch": {"send_batch_size": 10, "send_batch_max_size": 10, "timeout": "1s"}})
    spans = [make_span(f"b{i}") for i in range(25)]
    sent_at = time.monotonic()
    grpc_export(ports.grpc, trace_request(spans))
    grpc_sink.wait_for("traces", 25, SINK_TIMEOUT)
    reqs = grpc_sink.requests("traces")
    assert [span_count(r) for r in reqs] == [10, 10, 5]
    chunks = [{s.span_id for s in spans[i:i + 10]} for i in (0, 10, 20)]
    got = [{sp.span_id for rs in r.resource_spans for ss in rs.scope_spans for sp in ss.spans} for r in reqs]
    # the two full batches may be exported concurrently, so either may come first
    assert sorted(map(sorted, got[:2])) == sorted(map(sorted, chunks[:2])) and got[2] == chunks[2]
    waited = grpc_sink.arrival_times("traces")[2] - sent_at
    assert waited >= 0.8, f"the last 5 spans left after {waited:.3f}s, before the 1s batch timeout"


def test_batch_max_size_caps_merged_requests(collector, ports, grpc_sink):
    """Many small requests merge into batches no larger than send_batch_max_size."""
    start(collector, ports, grpc_sink,
          {"batch": {"send_batch_size": 8, "send_batch_max_size": 8, "timeout": "500ms"}})
    spans = [make_span(f"m{i}") for i in range(30)]
    for i in range(0, 30, 3):
        grpc_export(ports.grpc, trace_request(spans[i:i + 3]))
    grpc_sink.wait_for("traces", 30, SINK_TIMEOUT)
    sizes = [span_count(r) for r in grpc_sink.requests("traces")]
    assert sum(sizes) == 30 and max(sizes) <= 8, sizes
    assert sorted(sp.span_id for _, _, sp in grpc_sink.spans()) == sorted(s.span_id for s in spans)


def test_batch_timeout_flushes_partial_batch(collector, ports, grpc_sink):
    """Below send_batch_size nothing leaves before `timeout`; after it, everything does, in one request."""
    start(collector, ports, grpc_sink, {"batch": {"send_batch_size": 1000, "timeout": "2s"}})
    spans = [make_span(f"t{i}") for i in range(3)]
    sent_at = time.monotonic()
    grpc_export(ports.grpc, trace_request(spans[:2]))
    grpc_export(ports.grpc, trace_request(spans[2:]))
    grpc_sink.assert_quiet("traces", 1.0 - (time.monotonic() - sent_at), expected=0)
    grpc_sink.wait_for("traces", 3, SINK_TIMEOUT)
    assert [span_count(r) for r in grpc_sink.requests("traces")] == [3]


def test_batch_size_trigger_sends_before_timeout(collector, ports, grpc_sink):
    """Reaching send_batch_size sends at once, long before a 20s timeout."""
    start(collector, ports, grpc_sink, {"batch": {"send_batch_size": 5, "timeout": "20s"}})
    spans = [make_span(f"z{i}") for i in range(5)]
    grpc_export(ports.grpc, trace_request(spans))
    grpc_sink.wait_for("traces", 5, 5)
    assert [span_count(r) for r in grpc_sink.requests("traces")] == [5]
