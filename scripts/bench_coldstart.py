#!/usr/bin/env python3
"""Cold start to healthy: from exec of otelstack-collector to the first 200
from its health_check extension, repeated; prints the median and p95.

A timing, not a test (docs/benchmarks.md, "Image and cold start"). Each run
gets fresh ports on 127.0.0.1 and a config with an OTLP gRPC+HTTP receiver,
the batch processor and an OTLP exporter (to a port nothing listens on: the
exporter connects lazily), so start-up covers config parsing, validation,
building the graph and binding the listeners. The clock starts just before
the process is spawned and stops when a GET of the health endpoint answers
200; the poll is a tight connect loop (a refused connect costs microseconds).

    scripts/bench_coldstart.py [--runs 50] [--binary target/release/otelstack-collector]

Writes target/bench/coldstart.md too.

The other bench scripts import their collector helpers from here
(free_port, healthy, start_healthy, stop_collector, status_kib).
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
processors:
  batch: {{}}
exporters:
  otlp:
    endpoint: 127.0.0.1:{sink}
    tls:
      insecure: true
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
"""


def healthy(port: int) -> bool:
    """One GET /; True on a 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start_healthy(binary: Path, config: Path, health_port: int, what: str = "the collector",
                  timeout_s: float = 30.0) -> tuple[subprocess.Popen, object]:
    """Starts `binary --config config` (output to config's .log) and waits
    until its health check answers; returns the process and the open log."""
    log_path = config.with_suffix(".log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(binary), "--config", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout_s
    while not healthy(health_port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_collector(proc, log)
            raise SystemExit(f"{what} did not become healthy; see {log_path}")
        time.sleep(0.05)
    return proc, log


def stop_collector(proc: subprocess.Popen, log, timeout_s: float = 30.0) -> None:
    """SIGTERM, SIGKILL after `timeout_s`; closes the log."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def status_kib(pid: int, key: str) -> int:
    """A kB field of /proc/PID/status (VmRSS, VmHWM)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def one_run(binary: Path, workdir: Path, timeout_s: float = 10.0) -> float:
    ports = {k: free_port() for k in ("grpc", "http", "sink", "health", "metrics")}
    config = workdir / "coldstart.yaml"
    config.write_text(CONFIG.format(**ports))
    log = open(workdir / "coldstart.log", "wb")
    start = time.perf_counter()
    proc = subprocess.Popen([str(binary), "--config", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        while True:
            if healthy(ports["health"]):
                return (time.perf_counter() - start) * 1000.0
            if proc.poll() is not None:
                raise SystemExit(f"the collector exited with {proc.returncode} before it was healthy; see {workdir / 'coldstart.log'}")
            if time.perf_counter() - start > timeout_s:
                raise SystemExit(f"not healthy after {timeout_s} s; see {workdir / 'coldstart.log'}")
    finally:
        stop_collector(proc, log, timeout_s=20)


def percentile(xs: list, p: float) -> float:
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(p / 100.0 * len(xs) + 0.5) - 1))
    return xs[k]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_COLDSTART_RUNS", "50")))
    ap.add_argument("--binary", type=Path, default=Path(os.environ.get("OTELSTACK_COLLECTOR", ROOT / "target/release/otelstack-collector")))
    args = ap.parse_args()
    if not args.binary.is_file():
        print(f"{args.binary} does not exist: build it with `cargo build --release --bin otelstack-collector`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="coldstart-") as d:
        one_run(args.binary, Path(d))  # warm the page cache: the figure is a start, not a disk read
        times = [one_run(args.binary, Path(d)) for _ in range(args.runs)]
    med, p95 = statistics.median(times), percentile(times, 95)
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    md = (
        "# Cold start to healthy\n\n"
        f"`{args.binary}` ({args.binary.stat().st_size / 1e6:.1f} MB), {args.runs} runs, load average {load}.\n\n"
        "| runs | min ms | median ms | p95 ms | max ms | target |\n|--:|--:|--:|--:|--:|--|\n"
        f"| {args.runs} | {min(times):.1f} | {med:.1f} | {p95:.1f} | {max(times):.1f} | p95 < {TARGET_MS:.0f} ms: "
        f"{'met' if p95 < TARGET_MS else 'NOT met'} |\n"
    )
    print(md)
    out = ROOT / "target/bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "coldstart.md").write_text(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
