#!/usr/bin/env python3
"""Memory held per small request: many one-span OTLP/gRPC requests waiting
in the batch processor, otelstack-collector against Rotel.

A measurement, not a test (docs/benchmarks.md, "Small requests"). Each run
starts the collector with an OTLP gRPC receiver, a batch of 8192 spans with
a 10 s timeout and an OTLP/gRPC exporter to a sink in this process; sends
`--requests` (8000) one-span requests of ~380 bytes from 8 threads, so all
of them wait in the batch; then waits until the timeout flushes them and the
sink holds every span id exactly once. The figure is the collector's peak
RSS (VmHWM). Runs alternate between the collectors, `--runs` (3) each.

    scripts/bench_small_requests.py [--runs 3] [--requests 8000]

Writes target/bench/small_requests.md too.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_coldstart import free_port, status_kib  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
THREADS = 8

CONFIG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{receiver}
processors:
  batch:
    send_batch_size: 8192
    timeout: 10s
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink}
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"""


class Sink:
    """An OTLP/gRPC trace sink counting each span id it receives."""

    def __init__(self):
        self.seen: dict[bytes, int] = {}
        self.lock = threading.Lock()
        self.port = free_port()
        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(
                self.export, request_deserializer=ts.ExportTraceServiceRequest.FromString,
                response_serializer=ts.ExportTraceServiceResponse.SerializeToString)})
        self.server = grpc.server(futures.ThreadPoolExecutor(4), options=[("grpc.max_receive_message_length", 64 << 20)])
        self.server.add_generic_rpc_handlers((handler,))
        self.server.add_insecure_port(f"127.0.0.1:{self.port}")
        self.server.start()

    def export(self, request, _context):
        with self.lock:
            for rs in request.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.seen[span.span_id] = self.seen.get(span.span_id, 0) + 1
        return ts.ExportTraceServiceResponse()

    def reset(self):
        with self.lock:
            self.seen = {}


ATTRS = [common_pb2.KeyValue(key=f"attr.{i}", value=common_pb2.AnyValue(string_value="v" * 20)) for i in range(10)]
RESOURCE = resource_pb2.Resource(
    attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="checkout"))])


def request(n: int) -> bytes:
    span = trace_pb2.Span(trace_id=(n + 1).to_bytes(16, "big"), span_id=(n + 1).to_bytes(8, "big"), name="GET /cart",
                          attributes=ATTRS, start_time_unix_nano=1_700_000_000_000_000_000,
                          end_time_unix_nano=1_700_000_000_001_000_000)
    return ts.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
        resource=RESOURCE, scope_spans=[trace_pb2.ScopeSpans(spans=[span])])]).SerializeToString()


def start(kind: str, binary: Path, workdir: Path, receiver: int, sink: int) -> subprocess.Popen:
    out = open(workdir / f"{kind}.log", "wb")
    if kind == "otelstack":
        config = workdir / "otelstack.yaml"
        config.write_text(CONFIG.format(receiver=receiver, sink=sink))
        cmd = [str(binary), "--config", str(config)]
    else:
        cmd = [str(binary), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{receiver}",
               "--otlp-http-endpoint", f"127.0.0.1:{free_port()}", "--exporter", "otlp",
               "--otlp-exporter-endpoint", f"http://127.0.0.1:{sink}", "--otlp-exporter-protocol", "grpc",
               "--batch-max-size", "8192", "--batch-timeout", "10s",
               "--pid-file", str(workdir / "rotel.pid"), "--log-file", str(workdir / "rotel-agent.log")]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{kind} exited with {proc.returncode}; see {workdir / (kind + '.log')}")
        try:
            socket.create_connection(("127.0.0.1", receiver), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.02)
    sys.exit(f"{kind} did not listen on {receiver} within 10 s")


def one_run(kind: str, binary: Path, sink: Sink, requests: list[bytes], workdir: Path) -> tuple[float, str]:
    sink.reset()
    receiver = free_port()
    proc = start(kind, binary, workdir, receiver, sink.port)
    failures = []
    try:
        def send(part: range):
            with grpc.insecure_channel(f"127.0.0.1:{receiver}") as channel:
                call = channel.unary_unary(EXPORT, request_serializer=lambda b: b, response_deserializer=lambda b: b)
                for n in part:
                    try:
                        call(requests[n], timeout=10)
                    except grpc.RpcError as e:
                        failures.append(f"request {n}: {e.code()}")
        per = len(requests) // THREADS
        threads = [threading.Thread(target=send, args=(range(i * per, (i + 1) * per),)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 30
        while len(sink.seen) < len(requests) and time.monotonic() < deadline:
            time.sleep(0.1)
        peak = status_kib(proc.pid, "VmHWM") / 1024
    finally:
        proc.terminate()
        proc.wait(15)
    want = {(n + 1).to_bytes(8, "big") for n in range(len(requests))}
    lost = len(want - sink.seen.keys())
    dup = sum(c - 1 for c in sink.seen.values() if c > 1)
    return peak, f"{len(failures)} refused, {lost} lost, {dup} duplicated"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=8000, help="one-span requests per run (a multiple of 8)")
    p.add_argument("--binary", type=Path,
                   default=Path(os.environ.get("OTELSTACK_COLLECTOR", ROOT / "target/release/otelstack-collector")))
    p.add_argument("--rotel", type=Path, default=Path(os.environ.get(
        "ROTEL_AGENT", ROOT / ".venv/lib/python3.11/site-packages/rotel/rotel-agent")))
    args = p.parse_args()
    for b in (args.binary, args.rotel):
        if not b.exists():
            sys.exit(f"{b} does not exist: build it with `cargo build --release --bin otelstack-collector`, "
                     "or install Rotel with scripts/bench.sh")
    requests = [request(n) for n in range(args.requests)]
    sink = Sink()
    peaks: dict[str, list[float]] = {"otelstack": [], "rotel": []}
    notes = []
    with tempfile.TemporaryDirectory(prefix="otelstack-small-") as tmp:
        for run in range(args.runs):
            order = ["otelstack", "rotel"] if run % 2 == 0 else ["rotel", "otelstack"]
            for kind in order:
                binary = args.binary if kind == "otelstack" else args.rotel
                peak, outcome = one_run(kind, binary, sink, requests, Path(tmp))
                peaks[kind].append(peak)
                notes.append(f"- run {run + 1}, {kind}: peak RSS {peak:.1f} MiB; {outcome}")
                print(notes[-1], flush=True)
    sink.server.stop(0)
    ours, theirs = statistics.median(peaks["otelstack"]), statistics.median(peaks["rotel"])
    size = len(requests[0])
    report = [
        "# Small requests waiting in the batch processor",
        "",
        f"{args.requests} one-span OTLP/gRPC requests of {size} bytes ({args.requests * size / 2**20:.1f} MiB "
        f"encoded) from {THREADS} threads, held by a batch of 8192 spans until its 10 s timeout; "
        f"{args.runs} runs each, order alternated; load average {os.getloadavg()[0]:.2f}.",
        "",
        "| collector | peak RSS MiB (runs) | median |",
        "|---|---|--:|",
        f"| otelstack | {', '.join(f'{x:.1f}' for x in peaks['otelstack'])} | {ours:.1f} |",
        f"| rotel | {', '.join(f'{x:.1f}' for x in peaks['rotel'])} | {theirs:.1f} |",
        "",
        f"otelstack ÷ Rotel: **{ours / theirs:.2f}**",
        "",
        *notes,
    ]
    out = ROOT / "target/bench/small_requests.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(report) + "\n")
    print("\n".join(report[:10]))
    bad = [n for n in notes if not n.endswith("0 refused, 0 lost, 0 duplicated")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
