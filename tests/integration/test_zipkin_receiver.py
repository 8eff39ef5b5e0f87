"""The zipkin receiver with a real Zipkin client: the OpenTelemetry Python
SDK's Zipkin JSON exporter (opentelemetry-exporter-zipkin-json) posts v2 and
v1 JSON to the collector, which exports over OTLP/gRPC to a sink; each span
is checked item by item (ids, names, kinds, attributes, events, status,
service.name, scope). v2 protobuf bodies are built with the protobuf
library from zipkin.proto's field numbers (zipkin-api), independently of the
collector's structs. Bad input: garbage -> 400, wrong content types -> 415,
v1 Thrift -> 415, GET -> 405, and the receiver keeps serving; `auth` (401
before the body is read), `max_request_body_size` (413, also inflated) and
`tls` (the exporter trusting the test CA).
"""

from __future__ import annotations

import gzip
import json

import pytest
import requests
from conftest import Ports, free_port, otlp_exporter, pipeline
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.exporter.zipkin.encoder import Protocol
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from otlp_util import attrs, to_yaml
from pki import Pki

KIND = {"SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5, "UNSPECIFIED": 0, "INTERNAL": 1}


def zipkin_config(ports: Ports, sink_port: int, zport: int, settings=None, extensions=None) -> str:
    """`zipkin` -> traces -> otlp (to the sink), with extra receiver settings
    and extensions (enabled in the service)."""
    extensions = {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}, **(extensions or {})}
    cfg = {
        "receivers": {"zipkin": {"endpoint": f"127.0.0.1:{zport}", **(settings or {})}},
        "exporters": {"otlp": otlp_exporter(sink_port)},
        "extensions": extensions,
        "service": {"extensions": list(extensions),
                    "pipelines": {"traces": pipeline(["otlp"], receivers=("zipkin",))},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    return to_yaml(cfg) + "\n"


@pytest.fixture
def zipkin_with(collector, grpc_sink):
    """Factory: start a collector with the zipkin receiver (extra settings and
    extensions optional); returns the receiver's base URL."""

    def start(settings=None, extensions=None):
        zport = free_port()
        collector(zipkin_config(Ports.new(), grpc_sink.port, zport, settings, extensions))
        return f"http://127.0.0.1:{zport}"

    return start


@pytest.fixture
def zipkin(zipkin_with):
    return zipkin_with()


def send_with_sdk(url: str, version: Protocol) -> list:
    """Records a small trace with the SDK and exports it through the Zipkin
    exporter; returns the SDK's finished spans, in end order."""
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout", "deployment.environment": "dev"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("shop.instrumentation", "1.2.0")
    ended = []
    with tracer.start_as_current_span("GET /orders", kind=SpanKind.SERVER,
                                      attributes={"http.method": "GET", "retries": 3}) as server:
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT) as db:
            db.add_event("cache miss", {"key": "k1"})
            db.set_status(Status(StatusCode.ERROR, "db down"))
        ended.append(db)
        with tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER) as pub:
            pass
        ended.append(pub)
        with tracer.start_as_current_span("consume", kind=SpanKind.CONSUMER) as con:
            pass
        ended.append(con)
    ended.append(server)
    # max_tag_value_length is set because the v1 encoder fails on its None default
    exporter = ZipkinExporter(version=version, endpoint=url, local_node_ipv4="10.0.0.7", local_node_port=8080,
                              max_tag_value_length=128)
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS, "the collector answered 2xx"
    provider.shutdown()
    return ended


def by_span_id(sink, n):
    sink.wait_for("traces", n)
    return {sp.span_id.hex(): (res, scope, sp) for res, scope, sp in sink.spans()}


def test_v2_json_from_the_python_zipkin_exporter(zipkin, grpc_sink):
    sent = send_with_sdk(f"{zipkin}/api/v2/spans", Protocol.V2)
    got = by_span_id(grpc_sink, 4)
    assert len(got) == 4
    trace_id = format(sent[0].context.trace_id, "032x")
    server_id = format(sent[3].context.span_id, "016x")
    for sdk_span in sent:
        res, scope, sp = got[format(sdk_span.context.span_id, "016x")]
        assert sp.trace_id.hex() == trace_id
        assert sp.name == sdk_span.name
        assert sp.kind == KIND[sdk_span.kind.name]
        # the SDK's resource tags go back to the resource (with upstream's key rule)
        assert res == {"service.name": "checkout", "deployment.environment": "dev",
                       "telemetry.sdk.language": "python", "telemetry.sdk.name": "opentelemetry",
                       "telemetry.sdk.version": res["telemetry.sdk.version"],
                       "service.instance.id": sent[0].resource.attributes["service.instance.id"]}
        assert (scope.name, scope.version) == ("shop.instrumentation", "1.2.0")
        assert sp.start_time_unix_nano == (sdk_span.start_time + 500) // 1000 * 1000, "µs -> ns"
        assert sp.end_time_unix_nano > sp.start_time_unix_nano
        a = attrs(sp.attributes)
        assert a.pop("net.host.ip") == "10.0.0.7" and a.pop("net.host.port") == 8080
        if sdk_span.name == "GET /orders":
            assert sp.parent_span_id == b""
            assert a == {"http.method": "GET", "retries": "3"}
            assert sp.status.code == 0 and not sp.events
        else:
            assert sp.parent_span_id.hex() == server_id
        if sdk_span.name == "SELECT orders":
            assert a == {}
            assert (sp.status.code, sp.status.message) == (2, "db down")
            assert [(e.name, e.time_unix_nano // 1000) for e in sp.events] == \
                [(json.dumps({"cache miss": {"key": "k1"}}, sort_keys=True), (sdk_span.events[0].timestamp + 500) // 1000)]
        if sdk_span.name in ("publish", "consume"):
            assert a == {} and sp.status.code == 0


def test_v1_json_from_the_python_zipkin_exporter(zipkin, grpc_sink):
    sent = send_with_sdk(f"{zipkin}/api/v1/spans", Protocol.V1)
    got = by_span_id(grpc_sink, 4)
    assert len(got) == 4
    server_id = format(sent[3].context.span_id, "016x")
    for sdk_span in sent:
        res, scope, sp = got[format(sdk_span.context.span_id, "016x")]
        assert sp.trace_id.hex() == format(sdk_span.context.trace_id, "032x")
        assert sp.name == sdk_span.name
        # no cs/sr annotation carries an endpoint, so (as upstream) the binary
        # annotations' endpoint gives only the service name
        assert res == {"service.name": "checkout"}
        assert sp.kind == 0, "v1 spans without cs/sr/ms/mr annotations have no kind"
        assert sp.start_time_unix_nano // 1000 == (sdk_span.start_time + 500) // 1000
        a = attrs(sp.attributes)
        assert a["otel.scope.name"] == "shop.instrumentation"  # v1 has no scope: tags stay
        if sdk_span.name == "GET /orders":
            assert sp.parent_span_id == b"" and a["http.method"] == "GET" and a["retries"] == "3"
        else:
            assert sp.parent_span_id.hex() == server_id
        if sdk_span.name == "SELECT orders":
            assert sp.status.code == 2 and "error" not in a and "otel.status_code" not in a
            assert [e.name for e in sp.events] == [json.dumps({"cache miss": {"key": "k1"}}, sort_keys=True)]


def zipkin_proto_classes():
    """ListOfSpans from zipkin-api's zipkin.proto, built at run time."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="zipkin_test.proto", package="zipkin.proto3", syntax="proto3")
    ep = fdp.message_type.add(name="Endpoint")
    for name, num, typ in [("service_name", 1, F.TYPE_STRING), ("ipv4", 2, F.TYPE_BYTES),
                           ("ipv6", 3, F.TYPE_BYTES), ("port", 4, F.TYPE_INT32)]:
        ep.field.add(name=name, number=num, type=typ, label=F.LABEL_OPTIONAL)
    an = fdp.message_type.add(name="Annotation")
    an.field.add(name="timestamp", number=1, type=F.TYPE_FIXED64, label=F.LABEL_OPTIONAL)
    an.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    sp = fdp.message_type.add(name="Span")
    entry = sp.nested_type.add(name="TagsEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    for name, num, typ, label, tn in [
        ("trace_id", 1, F.TYPE_BYTES, F.LABEL_OPTIONAL, None), ("parent_id", 2, F.TYPE_BYTES, F.LABEL_OPTIONAL, None),
        ("id", 3, F.TYPE_BYTES, F.LABEL_OPTIONAL, None), ("kind", 4, F.TYPE_INT32, F.LABEL_OPTIONAL, None),
        ("name", 5, F.TYPE_STRING, F.LABEL_OPTIONAL, None), ("timestamp", 6, F.TYPE_FIXED64, F.LABEL_OPTIONAL, None),
        ("duration", 7, F.TYPE_UINT64, F.LABEL_OPTIONAL, None),
        ("local_endpoint", 8, F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".zipkin.proto3.Endpoint"),
        ("remote_endpoint", 9, F.TYPE_MESSAGE, F.LABEL_OPTIONAL, ".zipkin.proto3.Endpoint"),
        ("annotations", 10, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".zipkin.proto3.Annotation"),
        ("tags", 11, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".zipkin.proto3.Span.TagsEntry"),
        ("debug", 12, F.TYPE_BOOL, F.LABEL_OPTIONAL, None), ("shared", 13, F.TYPE_BOOL, F.LABEL_OPTIONAL, None),
    ]:
        f = sp.field.add(name=name, number=num, type=typ, label=label)
        if tn:
            f.type_name = tn
    lst = fdp.message_type.add(name="ListOfSpans")
    lst.field.add(name="spans", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".zipkin.proto3.Span")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("zipkin.proto3.ListOfSpans"))


def test_v2_protobuf_and_gzip_json(zipkin, grpc_sink):
    ListOfSpans = zipkin_proto_classes()
    body = ListOfSpans()
    s = body.spans.add(trace_id=bytes.fromhex("00000000000000aa"), id=bytes.fromhex("00000000000000bb"),
                       parent_id=bytes.fromhex("00000000000000cc"), kind=2, name="rpc", timestamp=1_700_000_000_000_000,
                       duration=1500, shared=True)
    s.local_endpoint.service_name = "backend"
    s.local_endpoint.ipv4 = bytes([192, 168, 1, 2])
    s.remote_endpoint.service_name = "frontend"
    s.remote_endpoint.port = 443
    s.annotations.add(timestamp=1_700_000_000_000_500, value="wr")
    s.tags["otel.status_code"] = "ERROR"
    s.tags["error"] = "timeout"
    s.tags["k"] = "v"
    r = requests.post(f"{zipkin}/api/v2/spans", data=body.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 202, r.text
    got = by_span_id(grpc_sink, 1)
    res, scope, sp = got["00000000000000bb"]
    assert res == {"service.name": "backend"}
    assert sp.trace_id.hex() == "000000000000000000000000000000aa", "a 64-bit trace id is left-padded"
    assert sp.parent_span_id.hex() == "00000000000000cc" and sp.name == "rpc" and sp.kind == KIND["SERVER"]
    assert (sp.start_time_unix_nano, sp.end_time_unix_nano) == (1_700_000_000_000_000_000, 1_700_000_000_001_500_000)
    assert (sp.status.code, sp.status.message) == (2, "timeout")
    assert attrs(sp.attributes) == {"k": "v", "net.host.ip": "192.168.1.2", "peer.service": "frontend",
                                    "net.peer.port": 443}
    assert [(e.name, e.time_unix_nano) for e in sp.events] == [("wr", 1_700_000_000_000_500_000)]

    v2 = [{"traceId": "4d1e00c0db9010db86154a4ba6e91385", "id": "4d1e00c0db9010db", "kind": "CONSUMER",
           "name": "poll", "timestamp": 1472470996199000, "duration": 207000,
           "localEndpoint": {"serviceName": "worker"}, "tags": {"otel.library.name": "kafka-lib"}}]
    r = requests.post(f"{zipkin}/api/v2/spans", data=gzip.compress(json.dumps(v2).encode()),
                      headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 202, r.text
    res, scope, sp = by_span_id(grpc_sink, 2)["4d1e00c0db9010db"]
    assert res == {"service.name": "worker"} and scope.name == "kafka-lib"
    assert sp.trace_id.hex() == "4d1e00c0db9010db86154a4ba6e91385" and sp.kind == KIND["CONSUMER"]
    assert list(sp.attributes) == []


def test_bad_input_is_refused_and_the_receiver_keeps_serving(zipkin, grpc_sink):
    r = requests.post(f"{zipkin}/api/v2/spans", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "invalid Zipkin v2 JSON" in r.text
    r = requests.post(f"{zipkin}/api/v1/spans", data=b"[{\"traceId\": \"12\", \"id\": \"0000000000000001\"}]",
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "traceId" in r.text
    r = requests.post(f"{zipkin}/api/v2/spans", data=b"\x0a\x05garbage", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and "protobuf" in r.text
    r = requests.post(f"{zipkin}/api/v2/spans", data=b"[]", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/json or application/x-protobuf" in r.text
    r = requests.post(f"{zipkin}/api/v1/spans", data=b"\x0c\x00", headers={"Content-Type": "application/x-thrift"})
    assert r.status_code == 415 and "Thrift is not supported" in r.text
    r = requests.post(f"{zipkin}/api/v2/spans", data=b"[]", headers={"Content-Type": "application/json",
                                                                      "Content-Encoding": "br"})
    assert r.status_code == 415 and "content encoding" in r.text
    assert requests.get(f"{zipkin}/api/v2/spans").status_code == 405
    assert requests.post(f"{zipkin}/api/v3/spans", data=b"[]").status_code == 404
    assert grpc_sink.item_count("traces") == 0
    ok = [{"traceId": "00000000000000010000000000000002", "id": "0000000000000003", "name": "after"}]
    r = requests.post(f"{zipkin}/api/v2/spans", json=ok)
    assert r.status_code == 202 and r.text == ""
    _, _, sp = by_span_id(grpc_sink, 1)["0000000000000003"]
    assert sp.name == "after"
    assert attrs(sp.attributes) == {"otel.zipkin.absentField.startTime": True}


def test_auth_and_body_limit_from_the_http_server_settings(zipkin_with, grpc_sink):
    url = zipkin_with({"auth": {"authenticator": "bearertokenauth"}, "max_request_body_size": 2048},
                      {"bearertokenauth": {"token": "zipkin-token"}})
    span = [{"traceId": "0000000000000001", "id": "0000000000000002", "name": "authed", "timestamp": 5}]
    r = requests.post(f"{url}/api/v2/spans", json=span)
    assert r.status_code == 401
    r = requests.post(f"{url}/api/v2/spans", json=span, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    good = {"Authorization": "Bearer zipkin-token"}
    big = [{**span[0], "tags": {"pad": "x" * 4096}}]
    r = requests.post(f"{url}/api/v2/spans", json=big, headers=good)
    assert r.status_code == 413 and "max_request_body_size" in r.text
    bomb = gzip.compress(json.dumps(big).encode())
    assert len(bomb) < 2048
    r = requests.post(f"{url}/api/v2/spans", data=bomb,
                      headers={**good, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 413, "the inflated size counts too"
    assert grpc_sink.item_count("traces") == 0
    r = requests.post(f"{url}/api/v2/spans", json=span, headers=good)
    assert r.status_code == 202, r.text
    _, _, sp = by_span_id(grpc_sink, 1)["0000000000000002"]
    assert (sp.name, sp.start_time_unix_nano) == ("authed", 5000)


def test_tls_with_the_python_zipkin_exporter(zipkin_with, grpc_sink, tmp_path):
    ca = Pki(tmp_path / "pki")
    cert, key = ca.issue("server", server=True)
    url = zipkin_with({"tls": {"cert_file": str(cert), "key_file": str(key)}}).replace("http://", "https://")
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(f"{url}/api/v2/spans", json=[])  # not trusted without the CA
    session = requests.Session()
    session.verify = str(ca.ca)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment replaces verify
    provider = TracerProvider(resource=Resource.create({"service.name": "tls-svc"}))
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("over-tls", kind=SpanKind.CLIENT):
        pass
    exporter = ZipkinExporter(endpoint=f"{url}/api/v2/spans", session=session)
    assert exporter.export(memory.get_finished_spans()) == SpanExportResult.SUCCESS
    (sdk_span,) = memory.get_finished_spans()
    res, _, sp = by_span_id(grpc_sink, 1)[format(sdk_span.context.span_id, "016x")]
    assert (res["service.name"], sp.name, sp.kind) == ("tls-svc", "over-tls", KIND["CLIENT"])
