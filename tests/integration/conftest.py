"""Fixtures for the otelstack-collector integration tests.

- `free_port()`: a TCP port on 127.0.0.1 not handed out before in this run.
- `config_yaml(...)`: an otelcol YAML config with an otlp receiver on fresh
  ports and a health_check extension (every generated config has one).
- `collector(yaml_text)`: starts the binary (env OTELSTACK_COLLECTOR, default
  target/debug/otelstack-collector) on that config, waits for health_check to
  answer 200 (or fails with the collector's stderr), and at teardown sends
  SIGTERM and asserts exit code 0.
- `grpc_sink` / `http_sink`: real OTLP servers (grpcio servicers for traces,
  metrics and logs; http.server for /v1/traces|metrics|logs, protobuf, gzip,
  deflate and zstd aware) that record every decoded request thread-safely and
  offer `wait_for(signal, count_or_predicate, timeout)`.
- `rotel(...)`: the Rotel collector (PyPI `rotel`) as a real peer.

Parallel runs (`make integration` uses pytest-xdist, `--dist loadfile`: a
module runs whole, in order, in one worker): ports are reserved across the
workers of one run, and modules marked `exclusive(NAME)` (the Docker engine
tests) hold one lock per NAME, so two of them never run at the same time.
"""

from __future__ import annotations

import fcntl
import gzip
import importlib.util
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import zlib
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pytest
import requests
import zstandard
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from otlp_util import flat_logs, flat_metrics, flat_spans, to_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_BIN = Path(os.environ.get("OTELSTACK_COLLECTOR") or REPO_ROOT / "target/debug/otelstack-collector")
START_TIMEOUT = 15.0
# The collector gives its components 20 s to drain after SIGTERM (an exporter
# that cannot deliver keeps retrying until then), then exits; this is the
# hang guard around that deadline, not a timing assertion.
STOP_TIMEOUT = 30.0

SIGNALS = ("traces", "metrics", "logs")
REQUEST_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSE_TYPES = {
    "traces": trace_service_pb2.ExportTraceServiceResponse,
    "metrics": metrics_service_pb2.ExportMetricsServiceResponse,
    "logs": logs_service_pb2.ExportLogsServiceResponse,
}

# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

_handed_out: set[int] = set()
_port_lock = threading.Lock()
# One directory per run, made by the main process and inherited by the
# pytest-xdist workers it spawns: a port is reserved by creating its file,
# and the `exclusive` locks live there.
_RUN_DIR_ENV = "OTELSTACK_TEST_RUN_DIR"


def _reserve_across_workers(port: int) -> bool:
    """True when no other worker of this run was handed `port`."""
    run_dir = os.environ.get(_RUN_DIR_ENV)
    if not run_dir:
        return True
    try:
        os.close(os.open(os.path.join(run_dir, f"port-{port}"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports are handed out from [20000, start of the kernel's ephemeral range):
# a port from the ephemeral range can be taken by any outgoing connection
# between the moment it is handed out and the moment a peer (mariadbd, a
# collector) binds it, which failed a MariaDB start with "Address already in
# use". With a range too small to draw from, the kernel picks as before.
_PORTS = range(20000, _ephemeral_low())


def free_port() -> int:
    """A port nothing listens on now, never handed out before in this run (by
    any worker), and outside the ephemeral range, so no outgoing connection
    takes it before the peer it is meant for binds it."""
    with _port_lock:
        for _ in range(200):
            if len(_PORTS) >= 1000:
                port = random.choice(_PORTS)
            else:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
            if port in _handed_out:
                continue
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("0.0.0.0", port))
            except OSError:
                continue
            _handed_out.add(port)
            if _reserve_across_workers(port):
                return port
    raise RuntimeError("no free port")


@pytest.fixture(scope="module", autouse=True)
def _exclusive(request):
    """Modules marked `exclusive(NAME)` run one at a time across all workers."""
    mark = request.node.get_closest_marker("exclusive")
    run_dir = os.environ.get(_RUN_DIR_ENV)
    if mark is None or not run_dir:
        yield
        return
    with open(os.path.join(run_dir, f"exclusive-{mark.args[0]}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def pytest_configure(config):
    if not hasattr(config, "workerinput"):  # the main process, before any worker starts
        os.environ[_RUN_DIR_ENV] = tempfile.mkdtemp(prefix="otelstack-test-run-")


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ.pop(_RUN_DIR_ENV, ""), ignore_errors=True)


def wait_tcp(port: int, timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------
# Config generation
# ---------------------------------------------------------------------------


@dataclass
class Ports:
    grpc: int
    http: int
    health: int
    metrics: int
    collector: object = field(default=None, repr=False)  # set by fixtures that start one

    @classmethod
    def new(cls) -> "Ports":
        return cls(free_port(), free_port(), free_port(), free_port())

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http}"


def config_yaml(ports: Ports, *, exporters: dict, pipelines: dict, processors: dict | None = None,
                grpc_extra: dict | None = None, http_extra: dict | None = None,
                extra_receivers: dict | None = None) -> str:
    """A full otelcol config: otlp receiver (grpc+http on `ports`), the given
    processors/exporters/pipelines, a health_check extension and the self
    metrics endpoint, all on fresh ports (otelcol's default self metrics port
    8888 would clash between two collectors)."""
    cfg = {
        "receivers": {"otlp": {"protocols": {
            "grpc": {"endpoint": f"127.0.0.1:{ports.grpc}", **(grpc_extra or {})},
            "http": {"endpoint": f"127.0.0.1:{ports.http}", **(http_extra or {})},
        }}},
        "processors": processors or {},
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
        "service": {"extensions": ["health_check"], "pipelines": pipelines,
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    cfg["receivers"].update(extra_receivers or {})
    if not cfg["processors"]:
        del cfg["processors"]
    return to_yaml(cfg) + "\n"


def otlp_exporter(port: int, **extra) -> dict:
    return {"endpoint": f"127.0.0.1:{port}", "tls": {"insecure": True}, **extra}


def otlphttp_exporter(port: int, **extra) -> dict:
    return {"endpoint": f"http://127.0.0.1:{port}", **extra}


def pipeline(exporters, processors=(), receivers=("otlp",)) -> dict:
    return {"receivers": list(receivers), "processors": list(processors), "exporters": list(exporters)}


# ---------------------------------------------------------------------------
# The collector under test
# ---------------------------------------------------------------------------

_HEALTH_RE = re.compile(r'health_check[^:]*:\s*\n\s+endpoint:\s*"?([0-9.]+|localhost):(\d+)"?')


class Collector:
    def __init__(self, config_text: str, workdir: Path, *, args=(), env=None, name="collector"):
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(config_text)
        self.stderr_path = workdir / f"{name}.stderr"
        self.stdout_path = workdir / f"{name}.stdout"
        m = _HEALTH_RE.search(config_text)
        assert m, "generated configs must contain a health_check extension with an endpoint"
        self.health_url = f"http://127.0.0.1:{m.group(2)}/"
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.cmd = [str(COLLECTOR_BIN), "--config", str(self.config_path), *args]
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err, env=full_env,
                                     start_new_session=True)
        self.returncode: int | None = None
        self.start_failed = False

    def stderr(self) -> str:
        self._err.flush()
        return self.stderr_path.read_text(errors="replace")

    def wait_healthy(self, timeout: float = START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.start_failed = True  # reported here; teardown does not repeat it
                pytest.fail(f"collector exited with {self.proc.returncode} before becoming healthy; "
                            f"stderr:\n{self.stderr()[-4000:]}")
            try:
                r = requests.get(self.health_url, timeout=1)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = type(e).__name__
            time.sleep(0.05)
        pytest.fail(f"collector not healthy at {self.health_url} after {timeout}s ({last}); "
                    f"stderr:\n{self.stderr()[-4000:]}")

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait; returns the exit code (kills and fails if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                pytest.fail(f"collector did not exit within {timeout}s of SIGTERM; stderr:\n{self.stderr()[-4000:]}")
        self.returncode = self.proc.returncode
        return self.returncode

    def close(self):
        for f in (self._err, self._out):
            f.close()


@pytest.fixture
def collector(tmp_path):
    """Factory: collector(yaml_text, args=(), env=None, wait=True) -> Collector.
    Teardown stops every started collector with SIGTERM and asserts exit 0."""
    started: list[Collector] = []

    def start(config_text: str, *, args=(), env=None, wait=True, name=None) -> Collector:
        assert COLLECTOR_BIN.exists(), f"collector binary {COLLECTOR_BIN} not found (cargo build --bin otelstack-collector)"
        c = Collector(config_text, tmp_path / "collectors", args=args, env=env,
                      name=name or f"collector{len(started)}")
        started.append(c)
        if wait:
            c.wait_healthy()
        return c

    yield start
    failures = []
    for c in started:
        rc = c.terminate()
        if rc != 0 and not c.start_failed:
            failures.append(f"{c.config_path.name}: exit code {rc} after SIGTERM; stderr tail:\n{c.stderr()[-3000:]}")
        c.close()
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------
# Sinks
# ---------------------------------------------------------------------------


class Recorder:
    """Thread-safe store of received OTLP requests per signal."""

    def __init__(self, name: str):
        self.name = name
        self._cond = threading.Condition()
        self._requests = {s: [] for s in SIGNALS}
        self._meta = {s: [] for s in SIGNALS}
        self._times = {s: [] for s in SIGNALS}

    def record(self, signal_name: str, request, meta):
        with self._cond:
            self._requests[signal_name].append(request)
            self._meta[signal_name].append(meta)
            self._times[signal_name].append(time.monotonic())
            self._cond.notify_all()

    def requests(self, signal_name: str = "traces") -> list:
        with self._cond:
            return list(self._requests[signal_name])

    def metadata(self, signal_name: str = "traces") -> list:
        with self._cond:
            return list(self._meta[signal_name])

    def arrival_times(self, signal_name: str = "traces") -> list:
        """time.monotonic() at which each request arrived, in arrival order."""
        with self._cond:
            return list(self._times[signal_name])

    def spans(self):
        return flat_spans(self.requests("traces"))

    def metrics(self):
        return flat_metrics(self.requests("metrics"))

    def log_records(self):
        return flat_logs(self.requests("logs"))

    def item_count(self, signal_name: str) -> int:
        flat = {"traces": flat_spans, "metrics": flat_metrics, "logs": flat_logs}[signal_name]
        return len(flat(self.requests(signal_name)))

    def wait_for(self, signal_name: str, want, timeout: float = 10.0) -> list:
        """Block until `want` holds and return the requests of `signal_name`.
        `want` is an item count (spans, metrics or log records; at least that
        many) or a predicate over the list of requests. Fails on timeout."""
        flat = {"traces": flat_spans, "metrics": flat_metrics, "logs": flat_logs}[signal_name]
        if callable(want):
            ok = want
        else:
            ok = lambda reqs: len(flat(reqs)) >= want  # noqa: E731
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                reqs = list(self._requests[signal_name])
                if ok(reqs):
                    return reqs
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"{self.name}: timed out after {timeout}s waiting for {signal_name} "
                                f"({want!r}); got {len(reqs)} requests with {len(flat(reqs))} items")
                self._cond.wait(min(left, 0.2))

    def assert_quiet(self, signal_name: str, duration: float, expected: int):
        """Over `duration` seconds, the item count must stay at `expected`."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            assert self.item_count(signal_name) == expected, \
                f"{self.name}: {signal_name} item count changed to {self.item_count(signal_name)}, expected {expected}"
            time.sleep(0.05)


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, rec):
        self.rec = rec

    def Export(self, request, context):
        self.rec.record("traces", request, dict(context.invocation_metadata()))
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, rec):
        self.rec = rec

    def Export(self, request, context):
        self.rec.record("metrics", request, dict(context.invocation_metadata()))
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, rec):
        self.rec = rec

    def Export(self, request, context):
        self.rec.record("logs", request, dict(context.invocation_metadata()))
        return logs_service_pb2.ExportLogsServiceResponse()


class GrpcSink(Recorder):
    """OTLP/gRPC server on 127.0.0.1 (traces, metrics, logs services)."""

    def __init__(self, port: int | None = None):
        super().__init__("grpc sink")
        self.port = port or free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                  options=[("grpc.max_receive_message_length", 64 << 20)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceServicer(self), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsServicer(self), self.server)
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(self), self.server)
        bound = self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        assert bound == self.port
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.server.stop(grace=1).wait(5)


def decode_body(body: bytes, encoding: str) -> bytes:
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding in ("deflate", "zlib"):
        return zlib.decompress(body)
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    raise ValueError(f"unsupported content-encoding {encoding!r}")


def _signal_for_path(path: str):
    path = path.split("?", 1)[0]
    for s in SIGNALS:
        if path == f"/v1/{s}" or path.rstrip("/").endswith(s):
            return s
    return None


class HttpSink(Recorder):
    """OTLP/HTTP protobuf server on 127.0.0.1. Records (request, meta) where
    meta has the path and headers; answers 200 with an empty protobuf response."""

    def __init__(self):
        super().__init__("http sink")
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, code, body=b"", ctype="application/x-protobuf"):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                sig = _signal_for_path(self.path)
                if sig is None:
                    return self._reply(404, b"unknown path", "text/plain")
                if not (self.headers.get("Content-Type") or "").startswith("application/x-protobuf"):
                    return self._reply(415, b"protobuf only", "text/plain")
                try:
                    msg = REQUEST_TYPES[sig].FromString(decode_body(raw, self.headers.get("Content-Encoding")))
                except Exception as e:  # noqa: BLE001 - report any decode failure as 400
                    return self._reply(400, str(e).encode(), "text/plain")
                meta = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
                sink.record(sig, msg, meta)
                self._reply(200, RESPONSE_TYPES[sig]().SerializeToString())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grpc_sink():
    sink = GrpcSink()
    yield sink
    sink.stop()


@pytest.fixture
def http_sink():
    sink = HttpSink()
    yield sink
    sink.stop()


@pytest.fixture
def ports():
    return Ports.new()


# ---------------------------------------------------------------------------
# Rotel
# ---------------------------------------------------------------------------


def rotel_binary() -> Path:
    spec = importlib.util.find_spec("rotel")
    assert spec and spec.submodule_search_locations, "the rotel package is not installed (scripts/test-setup.sh)"
    path = Path(spec.submodule_search_locations[0]) / "rotel-agent"
    assert path.exists(), f"{path} missing"
    return path


class Rotel:
    def __init__(self, workdir: Path, exporter_args, name="rotel"):
        workdir.mkdir(parents=True, exist_ok=True)
        self.grpc_port, self.http_port = free_port(), free_port()
        self.log_path = workdir / f"{name}.out"
        self.cmd = [
            str(rotel_binary()), "start",
            "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
            "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
            "--pid-file", str(workdir / f"{name}.pid"),
            "--log-file", str(workdir / f"{name}.log"),
            *exporter_args,
        ]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        ok = wait_tcp(self.grpc_port, START_TIMEOUT, self.proc) and wait_tcp(self.http_port, 5, self.proc)
        if not ok:
            self.stop()
            pytest.fail(f"rotel did not start: {self.cmd}\n{self.output()[-3000:]}")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def rotel(tmp_path):
    """Factory: rotel(exporter_args) starts rotel-agent with its receivers on
    fresh 127.0.0.1 ports, e.g. rotel(["--exporter", "otlp",
    "--otlp-exporter-endpoint", "http://127.0.0.1:PORT"])."""
    started = []

    def start(exporter_args, name=None):
        r = Rotel(tmp_path / "rotel", exporter_args, name=name or f"rotel{len(started)}")
        started.append(r)
        return r

    yield start
    for r in started:
        r.stop()


def rotel_to_grpc_sink_args(sink: GrpcSink) -> list:
    return ["--exporter", "otlp", "--otlp-exporter-endpoint", f"http://{sink.endpoint}",
            "--otlp-exporter-protocol", "grpc", "--batch-timeout", "100ms"]


def pytest_configure(config):
    config.addinivalue_line("markers", "kubernetes: Helm chart, Kubernetes examples and Operator compatibility "
                                       "(helm, kubernetes-validate, no cluster)")
