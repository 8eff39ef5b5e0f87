"""TLS, mTLS and authentication on the otlp receivers and exporters.

Certificates are made in the test with `cryptography`: a CA, a server
certificate for 127.0.0.1/localhost and a client certificate (plus a second,
unrelated CA for the wrong-CA case). Clients are the OpenTelemetry Python
SDK's exporters, grpcio, requests, Python's ssl module and a second
otelstack-collector; what arrives at the sink is checked span by span.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import subprocess
import time

import grpc
import pytest
import requests
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import COLLECTOR_BIN, Ports, otlp_exporter, pipeline
from otlp_util import grpc_export, make_span, parse_prometheus, sample_value, to_yaml, trace_request
from pki import Pki

TOKEN = "tok-3f9a1c7e-never-logged"
PASSWORD = "pw-8d2b-never-logged"


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE replace a session's
    `verify` (how the SDK's HTTP exporter passes certificate_file), so a
    machine that sets them would make the test CA be ignored."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def pki(tmp_path):
    p = Pki(tmp_path / "pki")
    p.server_cert, p.server_key = p.issue("server", server=True)
    p.client_cert, p.client_key = p.issue("client", server=False)
    return p


# ---------------------------------------------------------------------------
# Config and clients
# ---------------------------------------------------------------------------


def make_config(ports: Ports, *, exporters: dict, grpc_extra=None, http_extra=None, extensions=None,
                log_level="info") -> str:
    """Like conftest.config_yaml, plus extra extensions (listed in service.extensions)."""
    extensions = extensions or {}
    cfg = {
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports.grpc}", **(grpc_extra or {})},
            "http": {"endpoint": f"127.0.0.1:{ports.http}", **(http_extra or {})},
        }}},
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}, **extensions},
        "service": {"extensions": ["health_check", *extensions],
                    "pipelines": {"traces": pipeline(list(exporters))},
                    "telemetry": {"logs": {"level": log_level},
                                  "metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    return to_yaml(cfg) + "\n"


def tls_server(pki, **extra) -> dict:
    return {"tls": {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key), **extra}}


def sdk_spans(names):
    """Finished SDK spans with the given names (captured, not yet exported)."""
    mem = InMemorySpanExporter()
    tp = TracerProvider(resource=Resource.create({"service.name": "tls-auth-test"}))
    tp.add_span_processor(SimpleSpanProcessor(mem))
    tracer = tp.get_tracer("tls-auth")
    for n in names:
        with tracer.start_as_current_span(n):
            pass
    tp.shutdown()
    return list(mem.get_finished_spans())


def assert_spans_arrived(sink, spans):
    sink.wait_for("traces", len(spans))
    got = {sp.span_id: sp.name for _, _, sp in sink.spans()}
    want = {s.context.span_id.to_bytes(8, "big"): s.name for s in spans}
    assert got == want


def secure_grpc_export(port, request, pki, *, with_client_cert=False, metadata=None):
    kwargs = {"root_certificates": pki.ca.read_bytes()}
    if with_client_cert:
        kwargs.update(private_key=pki.client_key.read_bytes(), certificate_chain=pki.client_cert.read_bytes())
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
    with grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(**kwargs)) as ch:
        return trace_service_pb2_grpc.TraceServiceStub(ch).Export(request, timeout=5, metadata=metadata)


def post_traces(url, request, **kwargs):
    return requests.post(url, data=request.SerializeToString(),
                         headers={"Content-Type": "application/x-protobuf", **kwargs.pop("headers", {})},
                         timeout=5, **kwargs)


# ---------------------------------------------------------------------------
# TLS on the receivers
# ---------------------------------------------------------------------------


def test_grpc_and_http_over_tls_with_the_sdk(collector, grpc_sink, pki, ports):
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          grpc_extra=tls_server(pki), http_extra=tls_server(pki)))
    grpc_spans = sdk_spans([f"grpc-tls-{i}" for i in range(3)])
    exporter = GrpcSpanExporter(endpoint=f"127.0.0.1:{ports.grpc}", insecure=False, timeout=10,
                                credentials=grpc.ssl_channel_credentials(pki.ca.read_bytes()))
    assert exporter.export(grpc_spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    http_spans = sdk_spans([f"http-tls-{i}" for i in range(3)])
    exporter = HttpSpanExporter(endpoint=f"https://127.0.0.1:{ports.http}/v1/traces", certificate_file=str(pki.ca),
                                timeout=10)
    assert exporter.export(http_spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert_spans_arrived(grpc_sink, grpc_spans + http_spans)
    # plaintext is not answered on a TLS port
    with pytest.raises(requests.RequestException):
        post_traces(f"http://127.0.0.1:{ports.http}/v1/traces", trace_request([make_span("plain")]))


def test_mtls_requires_a_client_certificate(collector, grpc_sink, pki, ports):
    mtls = {"client_ca_file": str(pki.ca)}
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          grpc_extra=tls_server(pki, **mtls), http_extra=tls_server(pki, **mtls)))
    url = f"https://127.0.0.1:{ports.http}/v1/traces"
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        post_traces(url, trace_request([make_span("no-client-cert")]), verify=str(pki.ca))
    with pytest.raises(grpc.RpcError) as err:
        secure_grpc_export(ports.grpc, trace_request([make_span("no-client-cert")]), pki)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE

    http_span, grpc_span = make_span("mtls-http"), make_span("mtls-grpc")
    r = post_traces(url, trace_request([http_span]), verify=str(pki.ca), cert=(str(pki.client_cert), str(pki.client_key)))
    assert r.status_code == 200, r.text
    secure_grpc_export(ports.grpc, trace_request([grpc_span]), pki, with_client_cert=True)
    sdk = sdk_spans(["mtls-sdk"])
    exporter = HttpSpanExporter(endpoint=url, certificate_file=str(pki.ca), client_certificate_file=str(pki.client_cert),
                                client_key_file=str(pki.client_key), timeout=10)
    assert exporter.export(sdk) == SpanExportResult.SUCCESS
    grpc_sink.wait_for("traces", 3)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == ["mtls-grpc", "mtls-http", "mtls-sdk"]


def _handshake(port, ca, version: ssl.TLSVersion) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    ctx.minimum_version = version
    ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.version()


def test_min_version_1_3_refuses_a_tls_1_2_client(collector, grpc_sink, pki, ports):
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          grpc_extra=tls_server(pki, min_version="1.3"), http_extra=tls_server(pki, min_version="1.3")))
    for port in (ports.http, ports.grpc):
        assert _handshake(port, pki.ca, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            _handshake(port, pki.ca, ssl.TLSVersion.TLSv1_2)


def test_default_min_version_accepts_tls_1_2(collector, grpc_sink, pki, ports):
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, http_extra=tls_server(pki)))
    assert _handshake(ports.http, pki.ca, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"


def _served_cert(port, ca) -> bytes:
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def test_certificate_files_are_reloaded(collector, grpc_sink, pki, ports, tmp_path):
    live_cert, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    live_cert.write_bytes(pki.server_cert.read_bytes())
    live_key.write_bytes(pki.server_key.read_bytes())
    tls = {"tls": {"cert_file": str(live_cert), "key_file": str(live_key), "reload_interval": "100ms"}}
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, http_extra=tls))
    first = _served_cert(ports.http, pki.ca)
    assert first == ssl.PEM_cert_to_DER_cert(pki.server_cert.read_text())
    new_cert, new_key = pki.issue("server-rotated", server=True)
    live_key.write_bytes(new_key.read_bytes())
    live_cert.write_bytes(new_cert.read_bytes())
    rotated = ssl.PEM_cert_to_DER_cert(new_cert.read_text())
    deadline = time.monotonic() + 10
    while _served_cert(ports.http, pki.ca) != rotated:
        assert time.monotonic() < deadline, "the rotated certificate was not served within 10 s"
        time.sleep(0.1)
    r = post_traces(f"https://127.0.0.1:{ports.http}/v1/traces", trace_request([make_span("after-rotation")]),
                    verify=str(pki.ca))
    assert r.status_code == 200, r.text
    grpc_sink.wait_for("traces", 1)


def test_unreadable_certificate_warns_in_validate_and_stops_the_start(tmp_path, pki, ports):
    """CI validates configs without the deployment's certificates (as otelcol
    allows): validate warns with the key path, the run refuses to start."""
    cfg = make_config(ports, exporters={"otlp": otlp_exporter(4317)},
                      http_extra={"tls": {"cert_file": str(tmp_path / "missing.crt"), "key_file": str(pki.server_key)}})
    path = tmp_path / "bad.yaml"
    path.write_text(cfg)
    r = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "warning: receivers.otlp.protocols.http.tls.cert_file: cannot read" in r.stderr
    assert "missing.crt" in r.stderr
    r = subprocess.run([str(COLLECTOR_BIN), "--config", str(path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "  receivers.otlp.protocols.http.tls.cert_file: cannot read" in r.stderr and "missing.crt" in r.stderr


# ---------------------------------------------------------------------------
# Authenticators on the receivers
# ---------------------------------------------------------------------------


def _refused_everywhere(ports, req, headers: dict):
    r = post_traces(f"{ports.http_url}/v1/traces", req, headers=headers)
    assert r.status_code == 401, r.text
    with pytest.raises(grpc.RpcError) as err:
        grpc_export(ports.grpc, req, metadata=[(k.lower(), v) for k, v in headers.items()] or None)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bearer_token_on_receivers(collector, grpc_sink, ports):
    auth = {"auth": {"authenticator": "bearertokenauth"}}
    c = collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, grpc_extra=auth,
                              http_extra=auth, extensions={"bearertokenauth": {"token": TOKEN}}))
    bad = trace_request([make_span("must-not-arrive")])
    _refused_everywhere(ports, bad, {})
    _refused_everywhere(ports, bad, {"Authorization": "Bearer wrong-token"})
    _refused_everywhere(ports, bad, {"Authorization": TOKEN})  # scheme missing

    good = {"Authorization": f"Bearer {TOKEN}"}
    r = post_traces(f"{ports.http_url}/v1/traces", trace_request([make_span("bearer-http")]), headers=good)
    assert r.status_code == 200, r.text
    grpc_export(ports.grpc, trace_request([make_span("bearer-grpc")]), metadata=[("authorization", f"Bearer {TOKEN}")])
    grpc_sink.wait_for("traces", 2)
    grpc_sink.assert_quiet("traces", 0.5, 2)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == ["bearer-grpc", "bearer-http"]
    assert TOKEN not in c.stderr()


def test_bearer_token_from_file_is_reread(collector, grpc_sink, ports, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    auth = {"auth": {"authenticator": "bearertokenauth/file"}}
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, http_extra=auth,
                          extensions={"bearertokenauth/file": {"filename": str(token_file)}}))
    url = f"{ports.http_url}/v1/traces"
    assert post_traces(url, trace_request([make_span("t1")]), headers={"Authorization": "Bearer first-token"}).ok
    token_file.write_text("second-token\n")
    later = time.time() + 5  # a new modification time even on coarse clocks
    import os
    os.utime(token_file, (later, later))
    assert post_traces(url, trace_request([make_span("x")]), headers={"Authorization": "Bearer first-token"}).status_code == 401
    assert post_traces(url, trace_request([make_span("t2")]), headers={"Authorization": "Bearer second-token"}).ok
    grpc_sink.wait_for("traces", 2)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == ["t1", "t2"]


def _basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basicauth_on_receivers(collector, grpc_sink, ports, tmp_path):
    sha = base64.b64encode(hashlib.sha1(b"sha-pass").digest()).decode()
    htfile = tmp_path / "htpasswd"
    htfile.write_text(f"shauser:{{SHA}}{sha}\n")
    auth = {"auth": {"authenticator": "basicauth"}}
    collector(make_config(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, grpc_extra=auth, http_extra=auth,
                          extensions={"basicauth": {"htpasswd": {"file": str(htfile),
                                                                 "inline": f"plainuser:{PASSWORD}"}}}))
    bad = trace_request([make_span("must-not-arrive")])
    _refused_everywhere(ports, bad, {})
    _refused_everywhere(ports, bad, _basic("plainuser", "wrong"))
    _refused_everywhere(ports, bad, _basic("shauser", PASSWORD))
    r = post_traces(f"{ports.http_url}/v1/traces", trace_request([make_span("basic-plain")]),
                    headers=_basic("plainuser", PASSWORD))
    assert r.status_code == 200, r.text
    grpc_export(ports.grpc, trace_request([make_span("basic-sha")]),
                metadata=[("authorization", _basic("shauser", "sha-pass")["Authorization"])])
    grpc_sink.wait_for("traces", 2)
    grpc_sink.assert_quiet("traces", 0.5, 2)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == ["basic-plain", "basic-sha"]


def test_undeclared_authenticator_is_a_validation_error(tmp_path, ports):
    cfg = make_config(ports, exporters={"otlp": {**otlp_exporter(4317), "auth": {"authenticator": "bearertokenauth"}}},
                      http_extra={"auth": {"authenticator": "basicauth/missing"}})
    # declared but not enabled in service.extensions
    cfg = cfg.replace("extensions:\n  health_check:", f"extensions:\n  bearertokenauth:\n    token: \"{TOKEN}\"\n"
                      "  health_check:", 1)
    path = tmp_path / "bad.yaml"
    path.write_text(cfg)
    r = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True,
                       timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "receivers.otlp.protocols.http.auth.authenticator" in out and "basicauth/missing" in out
    assert "exporters.otlp.auth.authenticator" in out and "service.extensions" in out
    assert TOKEN not in out


# ---------------------------------------------------------------------------
# Exporters: client-side auth and TLS, towards a second otelstack
# ---------------------------------------------------------------------------


def test_exporters_authenticate_to_a_second_otelstack(collector, grpc_sink):
    back = Ports.new()
    collector(make_config(back, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          grpc_extra={"auth": {"authenticator": "bearertokenauth"}},
                          http_extra={"auth": {"authenticator": "basicauth"}},
                          extensions={"bearertokenauth": {"token": TOKEN},
                                      "basicauth": {"htpasswd": {"inline": f"relay:{PASSWORD}"}}}),
              name="backend")
    front = Ports.new()
    front_c = collector(make_config(
        front, log_level="debug",
        exporters={"otlp": {**otlp_exporter(back.grpc), "auth": {"authenticator": "bearertokenauth/client"}},
                   "otlphttp": {"endpoint": back.http_url, "auth": {"authenticator": "basicauth/client"}}},
        extensions={"bearertokenauth/client": {"token": TOKEN},
                    "basicauth/client": {"client_auth": {"username": "relay", "password": PASSWORD}}}),
        name="front")
    grpc_export(front.grpc, trace_request([make_span("relayed-0"), make_span("relayed-1")]))
    # each span arrives twice: once through otlp (bearer), once through otlphttp (basic)
    grpc_sink.wait_for("traces", 4)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == ["relayed-0", "relayed-0", "relayed-1", "relayed-1"]
    _wait_metric(front, "otelcol_exporter_sent_spans_total", "otlp", 2)
    _wait_metric(front, "otelcol_exporter_sent_spans_total", "otlphttp", 2)
    for secret in (TOKEN, PASSWORD, base64.b64encode(f"relay:{PASSWORD}".encode()).decode()):
        assert secret not in front_c.stderr()


def test_exporter_with_a_wrong_token_is_refused(collector, grpc_sink):
    back = Ports.new()
    collector(make_config(back, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          grpc_extra={"auth": {"authenticator": "bearertokenauth"}},
                          extensions={"bearertokenauth": {"token": TOKEN}}), name="backend")
    front = Ports.new()
    collector(make_config(front, exporters={"otlp": {**otlp_exporter(back.grpc),
                                                     "auth": {"authenticator": "bearertokenauth"}}},
                          extensions={"bearertokenauth": {"token": "not-the-token"}}), name="front")
    grpc_export(front.grpc, trace_request([make_span("refused")]))
    _wait_failed(front, "otlp", 1)
    assert grpc_sink.item_count("traces") == 0


def _wait_metric(ports, name, exporter, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        text = requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text
        value = sample_value(parse_prometheus(text), name, exporter=exporter)
        if value == want:
            return
        time.sleep(0.1)
    pytest.fail(f"{name}{{exporter={exporter}}} is {value}, expected {want}")


def _wait_failed(ports, exporter, want):
    _wait_metric(ports, "otelcol_exporter_send_failed_spans_total", exporter, want)


def test_otlp_exporter_tls_ca_file(collector, grpc_sink, pki, tmp_path):
    back = Ports.new()
    collector(make_config(back, exporters={"otlp": otlp_exporter(grpc_sink.port)}, grpc_extra=tls_server(pki)),
              name="backend")
    give_up = {"retry_on_failure": {"initial_interval": "100ms", "max_interval": "200ms", "max_elapsed_time": "1s"}}
    good, bad = Ports.new(), Ports.new()
    other_ca = Pki(tmp_path / "other", name="unrelated-ca")
    collector(make_config(good, exporters={"otlp": {"endpoint": f"127.0.0.1:{back.grpc}",
                                                    "tls": {"ca_file": str(pki.ca)}}}), name="right-ca")
    collector(make_config(bad, exporters={"otlp": {"endpoint": f"127.0.0.1:{back.grpc}",
                                                   "tls": {"ca_file": str(other_ca.ca)}, **give_up}}), name="wrong-ca")
    grpc_export(good.grpc, trace_request([make_span("via-tls")]))
    grpc_sink.wait_for("traces", 1)
    grpc_export(bad.grpc, trace_request([make_span("wrong-ca")]))
    _wait_failed(bad, "otlp", 1)
    grpc_sink.assert_quiet("traces", 0.5, 1)
    assert [sp.name for _, _, sp in grpc_sink.spans()] == ["via-tls"]
