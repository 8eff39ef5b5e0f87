"""Bad input against the OTLP receivers; after every case the collector must
still accept a valid request and deliver it.

- deflate and zstd bombs (1 GiB inflated) over HTTP -> 413, answered fast,
  and the collector's peak RSS (VmHWM) grows far less than the bomb;
- a gzip bomb over gRPC (128 MiB inflated, 4 MiB limit) -> RESOURCE_EXHAUSTED
  with the same memory bound;
- truncated protobuf (every cut of a valid request) and random bytes ->
  gRPC INVALID_ARGUMENT / HTTP 400;
- an AnyValue with a kvlist inside a kvlist 5,000 deep -> 400 / INVALID_ARGUMENT;
- invalid UTF-8 in a span name -> 400 / INVALID_ARGUMENT;
- unsupported content-encodings -> 415;
- a span with 100,000 attributes (about 1.6 MB, under the limits) is
  accepted and arrives with every attribute.

The gzip bomb over HTTP is in test_http_json_and_errors.py.
"""

from __future__ import annotations

import random
import time
import zlib

import grpc
import pytest
import requests
import zstandard
from conftest import Ports, config_yaml, otlp_exporter, pipeline
from opentelemetry.proto.common.v1 import common_pb2
from otlp_util import make_span, trace_request, varint

PB = "application/x-protobuf"
TRACES_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
BOMB = 1 << 30


@pytest.fixture
def target(collector, grpc_sink):
    """A collector: otlp receiver (HTTP and gRPC) -> otlp exporter to grpc_sink."""
    ports = Ports.new()
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      pipelines={"traces": pipeline(["otlp"])})
    ports.collector = collector(cfg)
    return ports


def peak_rss_mib(ports) -> float:
    for line in open(f"/proc/{ports.collector.proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def post(ports, body, ctype=PB, **headers):
    return requests.post(f"{ports.http_url}/v1/traces", data=body, headers={"Content-Type": ctype, **headers},
                         timeout=20)


def grpc_raw(ports, payload: bytes, compression=None):
    """One traces Export call carrying `payload` as the message bytes, unchanged."""
    opts = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}", options=opts) as ch:
        call = ch.unary_unary(TRACES_METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return call(payload, timeout=20, compression=compression)


def grpc_code(ports, payload: bytes, compression=None):
    try:
        grpc_raw(ports, payload, compression)
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


def still_serving(ports, grpc_sink, tag: str):
    """A valid request over HTTP and one over gRPC both arrive at the sink."""
    before = {sp.span_id for _, _, sp in grpc_sink.spans()}
    a, b = make_span(f"{tag}-http"), make_span(f"{tag}-grpc")
    assert post(ports, trace_request([a]).SerializeToString()).status_code == 200
    assert grpc_code(ports, trace_request([b]).SerializeToString()) == grpc.StatusCode.OK
    grpc_sink.wait_for("traces", lambda reqs: {a.span_id, b.span_id} <= {sp.span_id for req in reqs
                                                                          for rs in req.resource_spans
                                                                          for ss in rs.scope_spans
                                                                          for sp in ss.spans})
    assert not ({a.span_id, b.span_id} & before)


def valid_request(name="valid") -> bytes:
    return trace_request([make_span(name, attributes={"k": "v"})]).SerializeToString()


# ---------------------------------------------------------------------------
# compression bombs
# ---------------------------------------------------------------------------


def deflate_bomb(total: int = BOMB, chunk: int = 1 << 20) -> bytes:
    """A valid zlib stream of `total` zero bytes: after a full flush every
    1 MiB block compresses to the same bytes, so the stream is built by
    repetition in well under a second."""
    zeros = bytes(chunk)
    c = zlib.compressobj(9, zlib.DEFLATED, 15)
    head = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(total // chunk):
        adler = zlib.adler32(zeros, adler)
    return head + block * (total // chunk - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def zstd_bomb(total: int = BOMB, chunk: int = 1 << 20) -> bytes:
    c = zstandard.ZstdCompressor(level=3).compressobj()
    zeros = bytes(chunk)
    out = [c.compress(zeros) for _ in range(total // chunk)]
    out.append(c.flush())
    return b"".join(out)


def test_bomb_builders_are_what_they_claim():
    # a bomb that does not inflate to its size would make the tests below vacuous
    d = zlib.decompressobj()
    got = len(d.decompress(deflate_bomb(64 << 20), 0)) + len(d.flush())
    assert got == 64 << 20 and d.eof
    z = zstandard.ZstdDecompressor().decompressobj()
    assert len(z.decompress(zstd_bomb(64 << 20))) == 64 << 20


@pytest.mark.parametrize("encoding,build", [("deflate", deflate_bomb), ("zstd", zstd_bomb)])
def test_http_bomb_413_bounded_memory(target, grpc_sink, encoding, build):
    bomb = build()
    assert len(bomb) < 2 << 20, len(bomb)
    before = peak_rss_mib(target)
    t0 = time.monotonic()
    r = post(target, bomb, PB, **{"Content-Encoding": encoding})
    elapsed = time.monotonic() - t0
    assert r.status_code == 413, (r.status_code, r.text[:200])
    assert elapsed < 10, f"the {encoding} bomb took {elapsed:.1f}s to refuse: it was inflated too far"
    peak = peak_rss_mib(target)
    # the limit is 20 MiB; inflating stops there, so the peak grows by tens of MiB, not by 1 GiB
    assert peak - before < 96, f"VmHWM grew from {before:.0f} to {peak:.0f} MiB on a {BOMB >> 20} MiB bomb"
    still_serving(target, grpc_sink, f"after-{encoding}-bomb")


def test_grpc_gzip_bomb_resource_exhausted(target, grpc_sink):
    size = 128 << 20  # gzip by grpc itself: about 128 KiB on the wire, default limit 4 MiB
    before = peak_rss_mib(target)
    assert grpc_code(target, bytes(size), grpc.Compression.Gzip) == grpc.StatusCode.RESOURCE_EXHAUSTED
    peak = peak_rss_mib(target)
    assert peak - before < 48, f"VmHWM grew from {before:.0f} to {peak:.0f} MiB on a {size >> 20} MiB gzip bomb"
    still_serving(target, grpc_sink, "after-grpc-bomb")


# ---------------------------------------------------------------------------
# malformed protobuf
# ---------------------------------------------------------------------------


def test_truncated_protobuf_rejected_at_every_cut(target, grpc_sink):
    body = valid_request("to-be-cut")
    # the request is one length-delimited field, so every strict prefix is malformed
    cuts = sorted(set(range(1, 12)) | set(range(12, len(body), 7)) | {len(body) - 1})
    for cut in cuts:
        assert post(target, body[:cut]).status_code == 400, cut
        assert grpc_code(target, body[:cut]) == grpc.StatusCode.INVALID_ARGUMENT, cut
    grpc_sink.assert_quiet("traces", 0.3, expected=0)
    still_serving(target, grpc_sink, "after-truncated")


def test_random_bytes_rejected(target, grpc_sink):
    rng = random.Random(20261122)
    for i in range(30):
        blob = rng.randbytes(rng.randint(1, 4096))
        assert post(target, blob).status_code == 400, (i, blob[:16].hex())
        assert grpc_code(target, blob) == grpc.StatusCode.INVALID_ARGUMENT, (i, blob[:16].hex())
    grpc_sink.assert_quiet("traces", 0.3, expected=0)
    still_serving(target, grpc_sink, "after-random")


# ---------------------------------------------------------------------------
# hand-encoded requests (the Python protobuf library refuses to build these)
# ---------------------------------------------------------------------------


def field(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def wrap_span(span_bytes: bytes) -> bytes:
    """ExportTraceServiceRequest { resource_spans { scope_spans { spans } } }."""
    return field(1, field(2, field(2, span_bytes)))


def nested_kvlist(depth: int) -> bytes:
    """AnyValue { kvlist_value { values { key: "k", value: AnyValue { ... } } } }, `depth` levels."""
    value = field(1, b"leaf")  # string_value
    for _ in range(depth):
        key_value = field(1, b"k") + field(2, value)
        value = field(6, field(1, key_value))
    return value


def test_deeply_nested_anyvalue_rejected(target, grpc_sink):
    deep = field(9, field(1, b"deep") + field(2, nested_kvlist(5000)))  # span.attributes
    body = wrap_span(make_span("too-deep").SerializeToString() + deep)
    assert post(target, body).status_code == 400
    assert grpc_code(target, body) == grpc.StatusCode.INVALID_ARGUMENT
    # the same shape but shallow is fine: the refusal is about depth only
    shallow = field(9, field(1, b"shallow") + field(2, nested_kvlist(20)))
    ok_span = make_span("shallow")
    assert post(target, wrap_span(ok_span.SerializeToString() + shallow)).status_code == 200
    reqs = grpc_sink.wait_for("traces", 1)
    (got,) = [sp for req in reqs for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert got.span_id == ok_span.span_id and [kv.key for kv in got.attributes] == ["shallow"]
    still_serving(target, grpc_sink, "after-deep")


def test_invalid_utf8_span_name_rejected(target, grpc_sink):
    span = make_span("ab")
    good = span.SerializeToString()
    assert good.count(b"\x2a\x02ab") == 1  # field 5 (name), length 2
    bad = wrap_span(good.replace(b"\x2a\x02ab", b"\x2a\x02\xff\xfe"))
    r = post(target, bad)
    assert r.status_code == 400, r.status_code
    assert grpc_code(target, bad) == grpc.StatusCode.INVALID_ARGUMENT
    grpc_sink.assert_quiet("traces", 0.3, expected=0)
    still_serving(target, grpc_sink, "after-utf8")


@pytest.mark.parametrize("encoding", ["br", "snappy", "compress", "gzip, br"])
def test_unsupported_content_encoding_415(target, grpc_sink, encoding):
    r = post(target, valid_request(), PB, **{"Content-Encoding": encoding})
    assert r.status_code == 415, (encoding, r.status_code)
    grpc_sink.assert_quiet("traces", 0.3, expected=0)
    still_serving(target, grpc_sink, "after-415")


def test_span_with_100k_attributes_delivered_intact(target, grpc_sink):
    n = 100_000
    span = make_span("wide")
    span.attributes.extend(common_pb2.KeyValue(key=f"a{i}", value=common_pb2.AnyValue(int_value=i))
                           for i in range(n))
    body = trace_request([span]).SerializeToString()
    assert len(body) < 4 << 20  # under both receivers' default limits
    assert post(target, body).status_code == 200
    reqs = grpc_sink.wait_for("traces", 1, timeout=30)
    (got,) = [sp for req in reqs for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert got.span_id == span.span_id
    assert len(got.attributes) == n
    assert all(kv.key == f"a{i}" and kv.value.int_value == i for i, kv in enumerate(got.attributes))
    still_serving(target, grpc_sink, "after-wide")


def test_wide_span_over_grpc(target, grpc_sink):
    span = make_span("wide-grpc")
    span.attributes.extend(common_pb2.KeyValue(key=f"g{i}", value=common_pb2.AnyValue(string_value="v"))
                           for i in range(100_000))
    assert grpc_code(target, trace_request([span]).SerializeToString()) == grpc.StatusCode.OK
    reqs = grpc_sink.wait_for("traces", 1, timeout=30)
    (got,) = [sp for req in reqs for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert len(got.attributes) == 100_000 and got.attributes[-1].key == "g99999"
