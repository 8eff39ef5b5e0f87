"""Stand-ins for Jaeger and Loki, which cannot be installed here, built from
their protocol definitions (protos/: jaeger-idl's api_v2 model/collector and
Loki's push.proto, compiled at test time with grpcio-tools):

- JaegerCollector: a grpcio server implementing
  jaeger.api_v2.CollectorService/PostSpans, recording each call's request and
  metadata; `fail` queues gRPC status codes to answer the next calls with.
- LokiPush: an HTTP server for POST /loki/api/v1/push that undoes snappy
  (block format, as Loki does) and decodes logproto.PushRequest; `statuses`
  queues HTTP status codes for the next calls (204 otherwise).
"""

from __future__ import annotations

import importlib
import sys
import tempfile
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cramjam
import grpc
from grpc_tools import protoc

PROTOS = Path(__file__).parent / "protos"
_compiled: dict[str, object] = {}
_lock = threading.Lock()


def compiled():
    """Compiles the protos once per test run; returns the generated modules."""
    with _lock:
        if not _compiled:
            out = Path(tempfile.mkdtemp(prefix="legacy-protos-"))
            well_known = Path(protoc.__file__).parent / "_proto"
            files = ["jaeger/model.proto", "jaeger/collector.proto", "loki/push.proto"]
            rc = protoc.main(["protoc", f"-I{PROTOS}", f"-I{well_known}", f"--python_out={out}",
                              f"--grpc_python_out={out}", *files])
            assert rc == 0, f"protoc failed with {rc}"
            for pkg in ("jaeger", "loki"):
                (out / pkg / "__init__.py").touch()
            sys.path.insert(0, str(out))
            for name in ("jaeger.model_pb2", "jaeger.collector_pb2", "jaeger.collector_pb2_grpc", "loki.push_pb2"):
                _compiled[name.split(".")[1]] = importlib.import_module(name)
        return _compiled


class _Calls:
    def __init__(self):
        self.cond = threading.Condition()
        self.calls: list = []

    def add(self, item):
        with self.cond:
            self.calls.append(item)
            self.cond.notify_all()

    def wait(self, n: int, timeout: float = 30.0) -> list:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.calls) >= n, timeout)
            assert ok, f"expected {n} calls, got {len(self.calls)}"
            return list(self.calls)


class JaegerCollector:
    """Records (status_code_name, metadata dict, PostSpansRequest) per call."""

    def __init__(self):
        mods = compiled()
        self.pb = mods["collector_pb2"]
        self.model = mods["model_pb2"]
        self.fail: list[grpc.StatusCode] = []
        self.received = _Calls()
        peer = self

        class Servicer(mods["collector_pb2_grpc"].CollectorServiceServicer):
            def PostSpans(self, request, context):
                meta = dict(context.invocation_metadata())
                code = peer.fail.pop(0) if peer.fail else None
                peer.received.add((code.name if code else "OK", meta, request))
                if code is not None:
                    context.abort(code, "induced failure")
                return peer.pb.PostSpansResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        mods["collector_pb2_grpc"].add_CollectorServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def ok_batches(self, n_calls: int):
        return [req.batch for code, _, req in self.received.wait(n_calls) if code == "OK"]

    def stop(self):
        self.server.stop(0)


class LokiPush:
    """Records (status, headers dict, PushRequest or None) per call."""

    def __init__(self):
        self.pb = compiled()["push_pb2"]
        self.statuses: list[int] = []
        self.received = _Calls()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = peer.statuses.pop(0) if peer.statuses else 204
                req = None
                if self.path != "/loki/api/v1/push":
                    status = 404
                elif headers.get("content-type") != "application/x-protobuf":
                    status = 415
                else:
                    try:
                        req = peer.pb.PushRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
                    except Exception:  # what Loki answers to a body it cannot read
                        status = 400
                peer.received.add((status, headers, req))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/loki/api/v1/push"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
