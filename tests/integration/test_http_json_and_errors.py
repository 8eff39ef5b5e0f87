"""OTLP/HTTP receiver with raw `requests`: OTLP/JSON and error handling.

- OTLP/JSON traces, metrics and logs (hex ids, 64-bit ints as strings and as
  numbers, enums as ints, unknown fields) arrive at the gRPC sink with exactly
  the right ids and values; the response has the request's content type.
- Errors: malformed protobuf -> 400 with a google.rpc.Status body (protobuf in,
  protobuf out; JSON in, JSON out), bad hex ids -> 400, wrong content-type ->
  415, GET -> 405, unknown path -> 404, max_request_body_size -> 413 (also when
  only the decompressed size is over), a 1 GiB gzip bomb -> 413 and the
  collector keeps serving; empty requests -> 200; gzip, deflate and zstd
  bodies; CORS preflight; gRPC messages over max_recv_msg_size_mib ->
  RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib

import grpc
import pytest
import requests
import zstandard
from conftest import Ports, config_yaml, otlp_exporter, pipeline
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from otlp_util import attrs, grpc_export, make_span, trace_request, typed_attrs

PB = "application/x-protobuf"
JSON = "application/json"
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "eee19b7ec3c1b173"


@pytest.fixture
def otlp_http(collector, grpc_sink):
    """Factory: start a collector (otlp receiver -> otlp exporter to the gRPC
    sink, all three signals) with optional extra http/grpc receiver settings;
    returns its Ports (the Collector is at ports.collector)."""

    def start(http_extra=None, grpc_extra=None):
        ports = Ports.new()
        cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          pipelines={s: pipeline(["otlp"]) for s in ("traces", "metrics", "logs")},
                          http_extra=http_extra, grpc_extra=grpc_extra)
        ports.collector = collector(cfg)
        return ports

    return start


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of a running process, in MiB."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def post(ports, path, body, ctype=PB, **headers):
    return requests.post(f"{ports.http_url}{path}", data=body, headers={"Content-Type": ctype, **headers}, timeout=20)


def rpc_status(resp) -> status_pb2.Status:
    """Decode a google.rpc.Status error body in the response's own encoding."""
    ctype = resp.headers.get("Content-Type", "")
    if ctype.startswith(JSON):
        doc = resp.json()
        return status_pb2.Status(code=int(doc.get("code", 0)), message=doc.get("message", ""))
    assert ctype.startswith(PB), f"error body content-type {ctype!r}"
    return status_pb2.Status.FromString(resp.content)


def valid_trace_body(name="valid"):
    span = make_span(name)
    return span, trace_request([span]).SerializeToString()


JSON_TRACES = {
    "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}],
                     "droppedAttributesCount": 0},
        "scopeSpans": [{
            "scope": {"name": "json-scope", "version": "0.1"},
            "spans": [{
                "traceId": TRACE_ID, "spanId": SPAN_ID, "parentSpanId": PARENT_ID, "traceState": "k=v",
                "name": "json-span", "kind": 3,
                "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": 1544712661000000000,
                "attributes": [
                    {"key": "int.str", "value": {"intValue": "9007199254740993"}},
                    {"key": "int.num", "value": {"intValue": 42}},
                    {"key": "int.neg", "value": {"intValue": "-7"}},
                    {"key": "dbl", "value": {"doubleValue": 1.5}},
                    {"key": "flag", "value": {"boolValue": True}},
                    {"key": "bytes", "value": {"bytesValue": "AAH/"}},
                    {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
                    {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "x", "value": {"stringValue": "y"}}]}}},
                ],
                "events": [{"timeUnixNano": "1544712660500000000", "name": "ev",
                            "attributes": [{"key": "e", "value": {"intValue": "1"}}]}],
                "links": [{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}],
                "status": {"code": 2, "message": "bad"},
                "someFutureField": {"nested": [1, 2, 3]},
            }],
        }],
        "schemaUrl": "https://opentelemetry.io/schemas/1.21.0",
    }],
    "unknownTopLevel": True,
}

JSON_METRICS = {"resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "m"}}]},
    "scopeMetrics": [{"scope": {"name": "ms"}, "metrics": [
        {"name": "g", "unit": "1", "gauge": {"dataPoints": [
            {"asInt": "-9223372036854775808", "timeUnixNano": "1700000000000000001",
             "attributes": [{"key": "a", "value": {"stringValue": "b"}}]}]}},
        {"name": "s", "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [
            {"asDouble": 2.5, "startTimeUnixNano": 1700000000000000000, "timeUnixNano": "1700000001000000000"}]}},
        {"name": "h", "histogram": {"aggregationTemporality": 2, "dataPoints": [
            {"count": "3", "sum": 12.5, "bucketCounts": ["1", 2], "explicitBounds": [10.0],
             "timeUnixNano": "1700000002000000000", "min": 1.0, "max": 9.5}]}},
    ]}],
}]}

JSON_LOGS = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"scope": {"name": "ls"}, "logRecords": [{
    "timeUnixNano": "1700000000000000000", "observedTimeUnixNano": 1700000000000000005,
    "severityNumber": 17, "severityText": "ERROR", "body": {"stringValue": "json log line"},
    "attributes": [{"key": "n", "value": {"intValue": "5"}}], "flags": 1,
    "traceId": TRACE_ID, "spanId": SPAN_ID, "eventName": "ev.name", "whatever": "ignored",
}]}]}]}


def test_json_traces_exact(otlp_http, grpc_sink):
    ports = otlp_http()
    r = post(ports, "/v1/traces", json.dumps(JSON_TRACES), JSON)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith(JSON)
    doc = r.json()
    assert isinstance(doc, dict) and not (doc.get("partialSuccess") or {}).get("rejectedSpans")
    grpc_sink.wait_for("traces", 1)
    [(res, scope, sp)] = grpc_sink.spans()
    assert res == {"service.name": "json-svc"}
    assert (scope.name, scope.version) == ("json-scope", "0.1")
    assert grpc_sink.requests()[0].resource_spans[0].schema_url == "https://opentelemetry.io/schemas/1.21.0"
    assert sp.trace_id.hex() == TRACE_ID and sp.span_id.hex() == SPAN_ID and sp.parent_span_id.hex() == PARENT_ID
    assert (sp.name, sp.kind, sp.trace_state) == ("json-span", 3, "k=v")
    assert (sp.start_time_unix_nano, sp.end_time_unix_nano) == (1544712660000000000, 1544712661000000000)
    assert typed_attrs(sp.attributes) == {
        "int.str": ("int_value", 9007199254740993), "int.num": ("int_value", 42), "int.neg": ("int_value", -7),
        "dbl": ("double_value", 1.5), "flag": ("bool_value", True), "bytes": ("bytes_value", b"\x00\x01\xff"),
        "arr": ("array_value", ["a", 2]), "kv": ("kvlist_value", {"x": "y"}),
    }
    assert [(e.time_unix_nano, e.name, attrs(e.attributes)) for e in sp.events] == [(1544712660500000000, "ev", {"e": 1})]
    assert [(lk.trace_id.hex(), lk.span_id.hex()) for lk in sp.links] == [("0af7651916cd43dd8448eb211c80319c",
                                                                           "b7ad6b7169203331")]
    assert (sp.status.code, sp.status.message) == (2, "bad")


def test_json_metrics_exact(otlp_http, grpc_sink):
    ports = otlp_http()
    r = post(ports, "/v1/metrics", json.dumps(JSON_METRICS), JSON)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith(JSON)
    grpc_sink.wait_for("metrics", 3)
    got = {m.name: m for _, _, m in grpc_sink.metrics()}
    assert set(got) == {"g", "s", "h"}
    (g,) = got["g"].gauge.data_points
    assert (g.as_int, g.time_unix_nano, attrs(g.attributes)) == (-2**63, 1700000000000000001, {"a": "b"})
    (s,) = got["s"].sum.data_points
    assert (got["s"].sum.aggregation_temporality, got["s"].sum.is_monotonic) == (1, True)
    assert (s.as_double, s.start_time_unix_nano, s.time_unix_nano) == (2.5, 1700000000000000000, 1700000001000000000)
    (h,) = got["h"].histogram.data_points
    assert (h.count, h.sum, list(h.bucket_counts), list(h.explicit_bounds), h.min, h.max) == \
        (3, 12.5, [1, 2], [10.0], 1.0, 9.5)


def test_json_logs_exact(otlp_http, grpc_sink):
    ports = otlp_http()
    r = post(ports, "/v1/logs", json.dumps(JSON_LOGS), JSON)
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith(JSON)
    grpc_sink.wait_for("logs", 1)
    [(_, scope, lr)] = grpc_sink.log_records()
    assert scope.name == "ls"
    assert (lr.time_unix_nano, lr.observed_time_unix_nano) == (1700000000000000000, 1700000000000000005)
    assert (lr.severity_number, lr.severity_text, lr.body.string_value) == (17, "ERROR", "json log line")
    assert (lr.trace_id.hex(), lr.span_id.hex(), lr.flags, lr.event_name) == (TRACE_ID, SPAN_ID, 1, "ev.name")
    assert typed_attrs(lr.attributes) == {"n": ("int_value", 5)}


def test_protobuf_response_content_type(otlp_http, grpc_sink):
    ports = otlp_http()
    span, body = valid_trace_body()
    r = post(ports, "/v1/traces", body)
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith(PB)
    resp = trace_service_pb2.ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 0
    grpc_sink.wait_for("traces", 1)
    assert grpc_sink.spans()[0][2].span_id == span.span_id


@pytest.mark.parametrize("path", ["/v1/traces", "/v1/metrics", "/v1/logs"])
def test_malformed_protobuf_400_with_status(otlp_http, grpc_sink, path):
    ports = otlp_http()
    r = post(ports, path, b"\x0a\xff\xff\xff\xff\x0f garbage")
    assert r.status_code == 400
    st = rpc_status(r)
    assert r.headers.get("Content-Type", "").startswith(PB)
    assert st.code == 3 and st.message, st  # INVALID_ARGUMENT with a reason
    grpc_sink.assert_quiet("traces", 0.3, expected=0)


@pytest.mark.parametrize("trace_id", ["zz8efff798038103d269b633813fc60c", "5b8efff7980381", TRACE_ID + "00"],
                         ids=["non-hex", "short", "long"])
def test_bad_hex_id_json_400(otlp_http, grpc_sink, trace_id):
    ports = otlp_http()
    body = json.loads(json.dumps(JSON_TRACES))
    body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = trace_id
    r = post(ports, "/v1/traces", json.dumps(body), JSON)
    assert r.status_code == 400, f"traceId {trace_id!r} ({len(trace_id)} hex chars) answered {r.status_code}, not 400"
    assert r.headers.get("Content-Type", "").startswith(JSON), "JSON request must get a JSON Status"
    st = rpc_status(r)
    assert st.code == 3 and st.message
    grpc_sink.assert_quiet("traces", 0.3, expected=0)


def test_malformed_json_400(otlp_http):
    ports = otlp_http()
    r = post(ports, "/v1/traces", '{"resourceSpans": [', JSON)
    assert r.status_code == 400
    assert rpc_status(r).code == 3


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/protobuf-json"])
def test_wrong_content_type_415(otlp_http, ctype):
    ports = otlp_http()
    _, body = valid_trace_body()
    assert post(ports, "/v1/traces", body, ctype).status_code == 415


def test_get_405_and_unknown_path_404(otlp_http):
    ports = otlp_http()
    for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        assert requests.get(f"{ports.http_url}{path}", timeout=10).status_code == 405, path
    _, body = valid_trace_body()
    for path in ("/v1/spans", "/v2/traces", "/", "/v1/traces/extra"):
        assert post(ports, path, body).status_code == 404, path


def test_empty_requests_200(otlp_http, grpc_sink):
    ports = otlp_http()
    for path in ("/v1/traces", "/v1/metrics", "/v1/logs"):
        r = post(ports, path, b"")
        assert r.status_code == 200, (path, r.status_code, r.content)
        r = post(ports, path, "{}", JSON)
        assert r.status_code == 200, (path, r.status_code, r.text)
        assert r.headers.get("Content-Type", "").startswith(JSON) and isinstance(r.json(), dict)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_compressed_bodies_accepted(otlp_http, grpc_sink, encoding):
    ports = otlp_http()
    span, body = valid_trace_body(f"enc-{encoding}")
    packed = {"gzip": gzip.compress, "deflate": zlib.compress,
              "zstd": zstandard.ZstdCompressor().compress}[encoding](body)
    r = post(ports, "/v1/traces", packed, PB, **{"Content-Encoding": encoding})
    assert r.status_code == 200, r.content
    grpc_sink.wait_for("traces", 1)
    assert [(sp.name, sp.span_id) for _, _, sp in grpc_sink.spans()] == [(f"enc-{encoding}", span.span_id)]


def test_unknown_content_encoding_rejected(otlp_http, grpc_sink):
    ports = otlp_http()
    _, body = valid_trace_body()
    r = post(ports, "/v1/traces", body, PB, **{"Content-Encoding": "br-unknown"})
    assert 400 <= r.status_code < 500
    grpc_sink.assert_quiet("traces", 0.3, expected=0)


def test_max_request_body_size_413(otlp_http, grpc_sink):
    ports = otlp_http(http_extra={"max_request_body_size": 2048})
    big = make_span("big", attributes={"blob": "x" * 4096})
    body = trace_request([big]).SerializeToString()
    assert post(ports, "/v1/traces", body).status_code == 413
    # small compressed, large decompressed: the limit applies after decompression
    packed = gzip.compress(body)
    assert len(packed) < 2048
    assert post(ports, "/v1/traces", packed, PB, **{"Content-Encoding": "gzip"}).status_code == 413
    # under the limit still works
    span, ok = valid_trace_body("small")
    assert len(ok) < 2048
    assert post(ports, "/v1/traces", ok).status_code == 200
    grpc_sink.wait_for("traces", 1)
    assert [sp.span_id for _, _, sp in grpc_sink.spans()] == [span.span_id]


def gzip_bomb(total: int = 1 << 30, chunk: int = 1 << 20) -> bytes:
    """A valid single-member gzip of `total` zero bytes, built in memory in
    about a second: every 1 MiB block ends with a full flush, so all blocks
    after the first compress to identical bytes and can be repeated."""
    zeros = bytes(chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(total // chunk):
        crc = zlib.crc32(zeros, crc)
    # empty final fixed-Huffman block, then the gzip trailer (CRC32, ISIZE)
    return head + block * (total // chunk - 1) + b"\x03\x00" + struct.pack("<II", crc, total & 0xFFFFFFFF)


def test_gzip_bomb_413_and_keeps_serving(otlp_http, grpc_sink):
    ports = otlp_http()  # default max_request_body_size: 20 MiB
    bomb = gzip_bomb()
    assert len(bomb) < 2 << 20
    try:
        r = post(ports, "/v1/traces", bomb, PB, **{"Content-Encoding": "gzip"})
        status = r.status_code
    except requests.ConnectionError as e:  # a server may answer and close before reading it all
        pytest.fail(f"connection error instead of a 413 answer: {e}")
    assert status == 413
    # the bomb must be refused while inflating, not after inflating 1 GiB
    peak = peak_rss_mib(ports.collector.proc.pid)
    assert peak < 256, f"collector peak RSS {peak:.0f} MiB after the gzip bomb: it inflated too much"
    span, body = valid_trace_body("after-bomb")
    assert post(ports, "/v1/traces", body).status_code == 200
    grpc_sink.wait_for("traces", 1)
    assert [sp.span_id for _, _, sp in grpc_sink.spans()] == [span.span_id]


def test_cors_preflight(otlp_http):
    ports = otlp_http(http_extra={"cors": {"allowed_origins": ["http://app.example", "https://*.wild.example"]}})
    url = f"{ports.http_url}/v1/traces"

    def preflight(origin):
        return requests.options(url, timeout=10, headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})

    for origin in ("http://app.example", "https://x.wild.example"):
        r = preflight(origin)
        assert r.status_code in (200, 204), (origin, r.status_code)
        assert r.headers.get("Access-Control-Allow-Origin") == origin
        assert "POST" in r.headers.get("Access-Control-Allow-Methods", "").upper()
    r = preflight("http://evil.example")
    assert "Access-Control-Allow-Origin" not in r.headers
    _, body = valid_trace_body()
    r = post(ports, "/v1/traces", body, PB, Origin="http://app.example")
    assert r.status_code == 200
    assert r.headers.get("Access-Control-Allow-Origin") == "http://app.example"


def test_grpc_over_max_recv_msg_size_resource_exhausted(otlp_http, grpc_sink):
    ports = otlp_http(grpc_extra={"max_recv_msg_size_mib": 1})
    big = trace_request([make_span("too-big", attributes={"blob": "y" * (2 << 20)})])
    with pytest.raises(grpc.RpcError) as ei:
        grpc_export(ports.grpc, big)
    assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, ei.value
    ok = make_span("fits")
    grpc_export(ports.grpc, trace_request([ok]))
    grpc_sink.wait_for("traces", 1)
    assert [sp.span_id for _, _, sp in grpc_sink.spans()] == [ok.span_id]
