#!/usr/bin/env python3
"""Benchmark: what the stack's own collector pipeline costs, stage by stage.

The collector config is the one `stackctl init --with alertmanager` writes
(generated here by the real stackctl into a temp dir), with only its
addresses changed to local peers:
  otlp/tempo, otlp/jaeger  -> two OTLP/gRPC trace sinks in this process that
                              count every span id (each must get every span once)
  prometheusremotewrite    -> an HTTP sink answering 204 (counts requests)
  mysql                    -> a real MariaDB (Debian's mariadbd in a temp dir);
                              its failed_spans table must hold every error span once
  alert                    -> an HTTP sink standing in for Alertmanager's
                              /api/v2/alerts (counts requests)
  prometheus (spanmetrics) -> its own port on 127.0.0.1
The load: BENCH_STACK_RATE spans/s (10,000) for BENCH_STACK_SECONDS (20) in
requests of 100 spans (10 traces of 10), exactly one error span per request
(1%), from 4 sender threads over OTLP/gRPC. Measured for the collector process:
CPU seconds (utime+stime over load and drain), peak RSS (VmHWM), average RSS.
Then the same run with one stage removed at a time (memory_limiter, resource,
batch, spanmetrics and each trace exporter): the difference is that stage's cost.

Usage: .venv/bin/python scripts/bench_stack.py   (make bench runs it)
Knobs: BENCH_STACK_RATE, BENCH_STACK_SECONDS,
BENCH_STACK_REPEAT (3), BENCH_STACK_VARIANTS (comma list; default all), OTELSTACK_COLLECTOR, STACKCTL.
Writes target/bench/stack.md.
"""

from __future__ import annotations

import copy
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_coldstart import free_port, start_healthy, status_kib, stop_collector  # noqa: E402
from bench_peers import DB, DB_PASSWORD, DB_USER, HttpSink, MariaDB, TraceSink  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("OTELSTACK_COLLECTOR", ROOT / "target/release/otelstack-collector"))
STACKCTL = Path(os.environ.get("STACKCTL", ROOT / "target/release/stackctl"))
RATE = int(os.environ.get("BENCH_STACK_RATE", "10000"))
SECONDS = float(os.environ.get("BENCH_STACK_SECONDS", "20"))
REPEAT = int(os.environ.get("BENCH_STACK_REPEAT", "3"))
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TICK = os.sysconf("SC_CLK_TCK")
# (name, processors removed, trace exporters removed)
VARIANTS = [
    ("full", [], []),
    ("without memory_limiter", ["memory_limiter"], []),
    ("without resource", ["resource"], []),
    ("without batch", ["batch"], []),
    ("without spanmetrics", [], ["spanmetrics"]),
    ("without otlp/tempo", [], ["otlp/tempo"]),
    ("without otlp/jaeger", [], ["otlp/jaeger"]),
    ("without mysql", [], ["mysql"]),
    ("without alert", [], ["alert"]),
]


# ---- the collector config --------------------------------------------------

def stack_config(workdir: Path) -> str:
    """`stackctl init --with alertmanager`'s collector config, as written."""
    project = workdir / "project"
    subprocess.run([str(STACKCTL), "init", "--with", "alertmanager", str(project)],
                   check=True, capture_output=True, timeout=60)
    return (project / "otelcol/config.yaml").read_text()


def localize(text: str, ports: dict) -> dict:
    """The stack config with every peer address moved to a local one. Each
    address must be present: if the template changes, the bench says so."""
    swaps = {
        "0.0.0.0:13133": f"127.0.0.1:{ports['health']}",
        "0.0.0.0:4317": f"127.0.0.1:{ports['grpc']}",
        "0.0.0.0:4318": f"127.0.0.1:{ports['http']}",
        "0.0.0.0:8888": f"127.0.0.1:{ports['metrics']}",
        "0.0.0.0:8889": f"127.0.0.1:{ports['prom']}",
        "tempo:4317": f"127.0.0.1:{ports['tempo']}",
        "jaeger:4317": f"127.0.0.1:{ports['jaeger']}",
        "http://prometheus:9090/api/v1/write": f"http://127.0.0.1:{ports['rw']}/api/v1/write",
        "http://alertmanager:9093": f"http://127.0.0.1:{ports['alert']}",
        "${env:MARIADB_USER}:${env:MARIADB_PASSWORD}@mariadb:3306/${env:MARIADB_DATABASE}":
            f"{DB_USER}:{DB_PASSWORD}@127.0.0.1:{ports['mariadb']}/{DB}",
    }
    for old, new in swaps.items():
        if old not in text:
            raise SystemExit(f"the config stackctl init writes no longer contains {old!r}; update scripts/bench_stack.py")
        text = text.replace(old, new)
    return yaml.safe_load(text)


def without(cfg: dict, processors: list, exporters: list) -> dict:
    """The config with processors removed from every pipeline and exporters from
    the traces pipeline (spanmetrics also loses its metrics pipeline)."""
    cfg = copy.deepcopy(cfg)
    pipelines = cfg["service"]["pipelines"]
    for name, p in list(pipelines.items()):
        p["processors"] = [x for x in p.get("processors", []) if x not in processors]
        if name == "traces":
            p["exporters"] = [x for x in p["exporters"] if x not in exporters]
        if "spanmetrics" in exporters and "spanmetrics" in p.get("receivers", []):
            del pipelines[name]
    if "spanmetrics" in exporters:
        del cfg["connectors"]["spanmetrics"]
        del cfg["exporters"]["prometheus"]
    for p in processors:
        del cfg["processors"][p]
    for e in exporters:
        # the logs pipeline keeps mysql and alert: only the traces path is measured
        if not any(e in p["exporters"] for p in pipelines.values()):
            cfg["exporters"].pop(e, None)
    return cfg


# ---- load ------------------------------------------------------------------

def kv(k: str, v) -> common_pb2.KeyValue:
    if isinstance(v, bool):
        return common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(bool_value=v))
    if isinstance(v, int):
        return common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(int_value=v))
    return common_pb2.KeyValue(key=k, value=common_pb2.AnyValue(string_value=v))


SERVICES = ["frontend", "checkout", "cart", "payment", "shipping"]
OPS = [("GET /api/v1/products", 2), ("SELECT orders", 3), ("oteldemo.CartService/GetCart", 3),
       ("publish orders.created", 4), ("POST /api/v1/checkout", 2), ("GET /api/v1/cart/{userId}", 2)]


def build_pool(n_requests: int) -> tuple[list[bytes], int]:
    """Requests of 100 spans, span ids 1.., exactly one error span per request."""
    pool, seq = [], 0
    now = time.time_ns()
    for r in range(n_requests):
        svc = SERVICES[r % len(SERVICES)]
        spans = []
        for t in range(10):
            trace_id = (r * 10 + t + 1).to_bytes(16, "big")
            root = None
            for j in range(10):
                seq += 1
                name, kind = OPS[(t + j) % len(OPS)]
                error = t == 3 and j == 5
                sid = seq.to_bytes(8, "big")
                start = now - 30_000_000_000 + j * 1_000_000
                spans.append(trace_pb2.Span(
                    trace_id=trace_id, span_id=sid, parent_span_id=root or b"", name=name,
                    kind=1 + (0 if j == 0 else kind - 1),
                    start_time_unix_nano=start, end_time_unix_nano=start + 1_000_000 + (j * 37_000 % 5_000_000),
                    attributes=[kv("http.route", name), kv("http.response.status_code", 500 if error else 200),
                                kv("server.address", f"{svc}.internal"), kv("app.user_id", f"u-{seq % 5000}"),
                                kv("app.cache_hit", j % 2 == 0), kv("net.peer.port", 8080)],
                    status=trace_pb2.Status(code=2 if error else 0, message="upstream failed" if error else "")))
                root = root or sid
        req = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=resource_pb2.Resource(attributes=[kv("service.name", svc), kv("service.version", "1.4.2"),
                                                       kv("host.name", f"{svc}-7d9f"), kv("telemetry.sdk.language", "python")]),
            scope_spans=[trace_pb2.ScopeSpans(scope=common_pb2.InstrumentationScope(name="bench"), spans=spans)])])
        pool.append(req.SerializeToString())
    return pool, seq


def send_load(port: int, pool: list[bytes], rate: float, seconds: float, threads: int = 4) -> dict:
    """Sends pool[i] at `rate` spans/s; returns acknowledged and failed requests."""
    period = 100.0 * threads / rate
    per_thread = int(seconds / period)
    stats = {"ok": 0, "failed": 0, "behind": 0}
    lock = threading.Lock()

    def worker(k: int):
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        call = channel.unary_unary(EXPORT)
        start = time.perf_counter() + k * period / threads
        for i in range(per_thread):
            due = start + i * period
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                call(pool[i * threads + k], timeout=30)
                outcome = "ok"
            except grpc.RpcError:
                outcome = "failed"
            with lock:
                stats[outcome] += 1
                stats["behind"] += delay < -period
        channel.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return stats


# ---- one run ---------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run(variant: tuple, base_text: str, pool: list, db: MariaDB, workdir: Path) -> dict:
    name, processors, exporters = variant
    tempo, jaeger, rw, alert = TraceSink(), TraceSink(), HttpSink(204), HttpSink(200)
    db.reset()
    ports = {k: free_port() for k in ("health", "grpc", "http", "metrics", "prom")}
    ports.update(tempo=tempo.port, jaeger=jaeger.port, rw=rw.port, alert=alert.port, mariadb=db.port)
    cfg = without(localize(base_text, ports), processors, exporters)
    path = workdir / (name.replace(" ", "-").replace("/", "-") + ".yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = log = None
    try:
        proc, log = start_healthy(BIN, path, ports["health"], what=f"{name}: the collector")
        time.sleep(0.5)
        rss_samples, stop = [], threading.Event()

        def sample():
            while not stop.wait(0.1):
                rss_samples.append(status_kib(proc.pid, "VmRSS"))
        threading.Thread(target=sample, daemon=True).start()
        cpu0 = proc_cpu(proc.pid)
        t0 = time.perf_counter()
        load = send_load(ports["grpc"], pool, RATE, SECONDS)
        sent = load["ok"] * 100
        errors_sent = load["ok"]  # one error span per request
        want_tempo = sent if "otlp/tempo" not in exporters else 0
        want_jaeger = sent if "otlp/jaeger" not in exporters else 0
        want_db = errors_sent if "mysql" not in exporters else 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (len(tempo.seen) >= want_tempo and len(jaeger.seen) >= want_jaeger
                    and db.failed_span_ids()[0] >= want_db):
                break
            time.sleep(0.1)
        drained = time.perf_counter() - t0
        cpu = proc_cpu(proc.pid) - cpu0
        stop.set()
        peak = status_kib(proc.pid, "VmHWM")
        rows, distinct = db.failed_span_ids()
        return {
            "variant": name, "sent": sent, "failed_requests": load["failed"], "behind": load["behind"],
            "tempo": len(tempo.seen), "jaeger": len(jaeger.seen), "dups": tempo.dups + jaeger.dups,
            "want_tempo": want_tempo, "want_jaeger": want_jaeger, "db_rows": rows, "db_distinct": distinct,
            "want_db": want_db, "rw_requests": rw.requests, "alert_requests": alert.requests,
            "cpu": cpu, "seconds": drained, "peak_mib": peak / 1024,
            "avg_mib": statistics.mean(rss_samples) / 1024 if rss_samples else 0.0,
        }
    finally:
        if proc is not None:
            stop_collector(proc, log)
        for s in (tempo, jaeger, rw, alert):
            s.stop()


def complete(r: dict) -> bool:
    """Every acknowledged span at each trace sink once, one row per error span."""
    return (r["sent"] > 0 and r["failed_requests"] == 0 and r["dups"] == 0
            and r["tempo"] == r["want_tempo"] and r["jaeger"] == r["want_jaeger"]
            and r["db_rows"] == r["want_db"] and r["db_distinct"] == r["want_db"])


def main() -> int:
    for b in (BIN, STACKCTL):
        if not b.is_file():
            print(f"{b} does not exist: build it with `cargo build --release --bins`", file=sys.stderr)
            return 2
    names = os.environ.get("BENCH_STACK_VARIANTS")
    variants = [v for v in VARIANTS if not names or v[0] in names.split(",") or v[0] == "full"]
    pool, _ = build_pool(int(RATE * SECONDS / 100) + 10)
    results: dict[str, list] = {}
    load_before = " ".join(open("/proc/loadavg").read().split()[:3])
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as d:
        workdir = Path(d)
        base_text = stack_config(workdir)
        db = MariaDB(workdir)
        try:
            for rep in range(REPEAT):
                order = variants if rep % 2 == 0 else list(reversed(variants))
                for v in order:
                    r = run(v, base_text, pool, db, workdir)
                    print(f"   {r['variant']}: sent {r['sent']}, tempo {r['tempo']}, jaeger {r['jaeger']}, "
                          f"db {r['db_rows']}/{r['want_db']}, alerts {r['alert_requests']} requests, "
                          f"remote write {r['rw_requests']} requests, CPU {r['cpu']:.2f} s, "
                          f"peak RSS {r['peak_mib']:.1f} MiB", file=sys.stderr)
                    results.setdefault(r["variant"], []).append(r)
        finally:
            db.stop()
    med = lambda xs: statistics.median(xs)  # noqa: E731
    full_cpu = med([r["cpu"] / r["sent"] * 1e6 for r in results["full"]])
    full_rss = med([r["peak_mib"] for r in results["full"]])
    lines = [
        "# The stack's own pipeline (`stackctl init --with alertmanager`)\n",
        f"{RATE:,} spans/s for {SECONDS:.0f} s, 1% error spans, {REPEAT} run(s) of each variant (order alternated); "
        f"load average before {load_before}, after {' '.join(open('/proc/loadavg').read().split()[:3])}.\n",
        "| variant | spans sent | at tempo / jaeger sink | failed_spans rows (want) | alert, remote-write requests | "
        "CPU-s per 1M spans (= µs per span) | stage cost µs/span (full − variant) | peak RSS MiB | Δ peak RSS MiB | avg RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    ok = True
    for v in variants:
        rs = results[v[0]]
        cpu_m = med([r["cpu"] / r["sent"] * 1e6 for r in rs])
        peak = med([r["peak_mib"] for r in rs])
        r = rs[0]
        good = all(complete(x) for x in rs)
        ok &= good
        lines.append(
            f"| {v[0]} | {r['sent']:,} | {r['tempo']:,} / {r['jaeger']:,} | {r['db_rows']:,} ({r['want_db']:,}) | "
            f"{r['alert_requests']}, {r['rw_requests']} | {cpu_m:.2f} | "
            f"{'' if v[0] == 'full' else f'{full_cpu - cpu_m:+.2f}'} | {peak:.1f} | "
            f"{'' if v[0] == 'full' else f'{full_rss - peak:+.1f}'} | {med([x['avg_mib'] for x in rs]):.1f} |"
            + ("" if good else " **INCOMPLETE**"))
    lines.append("\nCPU-s per 1M spans equals µs of CPU per span. A stage's cost is the full pipeline's figure "
                 "minus the figure without that stage (negative: the pipeline costs more without it, as without batch, where every exporter gets many small requests; or noise). Each delivery is checked: "
                 "both trace sinks hold every acknowledged span id exactly once, and failed_spans holds one row "
                 "per error span.")
    md = "\n".join(lines) + "\n"
    print(md)
    out = ROOT / "target/bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stack.md").write_text(md)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
