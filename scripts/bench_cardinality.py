#!/usr/bin/env python3
"""Benchmark: spanmetrics and the prometheus exporter at 100k and 1M active
series, and the bound `aggregation_cardinality_limit` puts on memory.

The collector runs `otlp -> spanmetrics -> prometheus` (spanmetrics with
exemplars, as the stack configures it, flushing every second). Spans with
distinct names make distinct spanmetrics keys; each key is 20 Prometheus series
(`calls` + the duration histogram's 16 bounds, `+Inf`, `_sum`, `_count`), so
100k series are 5,000 keys and 1M series 50,000. For each size the bench sends
one span per key (twice), waits until a scrape shows every key, then reads the
collector's RSS and times BENCH_CARD_SCRAPES (3) scrapes of /metrics. RSS per
series = (RSS with the series held - RSS idle) / series. The limited run sets
`aggregation_cardinality_limit` to BENCH_CARD_LIMIT (1000) and sends the 1M-series
load: memory must stay near idle, and the scrape must hold the limit's keys
plus one `otel.metric.overflow="true"` key with the rest of the calls.

Usage: .venv/bin/python scripts/bench_cardinality.py   (make bench runs it)
Knobs: BENCH_CARD_SIZES (comma list of series counts; 100000,1000000),
BENCH_CARD_LIMIT, BENCH_CARD_SCRAPES, OTELSTACK_COLLECTOR.
Writes target/bench/cardinality.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_coldstart import free_port, start_healthy, status_kib, stop_collector  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("OTELSTACK_COLLECTOR", ROOT / "target/release/otelstack-collector"))
SIZES = [int(x) for x in os.environ.get("BENCH_CARD_SIZES", "100000,1000000").split(",")]
LIMIT = int(os.environ.get("BENCH_CARD_LIMIT", "1000"))
SCRAPES = int(os.environ.get("BENCH_CARD_SCRAPES", "3"))
SERIES_PER_KEY = 20
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
CALLS = "traces_span_metrics_calls_total{"


def config(ports: dict, limit: int) -> str:
    return f"""receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{ports['grpc']}
connectors:
  spanmetrics:
    exemplars:
      enabled: true
    metrics_flush_interval: 1s
    aggregation_cardinality_limit: {limit}
exporters:
  prometheus:
    endpoint: 127.0.0.1:{ports['prom']}
extensions:
  health_check:
    endpoint: 127.0.0.1:{ports['health']}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{ports['metrics']}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [spanmetrics]
    metrics:
      receivers: [spanmetrics]
      exporters: [prometheus]
"""


def requests_for(keys: int, per_request: int = 1000) -> list[bytes]:
    """One span per key (a distinct span name each), `per_request` spans a request."""
    out, now = [], time.time_ns()
    res = resource_pb2.Resource(attributes=[common_pb2.KeyValue(
        key="service.name", value=common_pb2.AnyValue(string_value="cardinality"))])
    for first in range(0, keys, per_request):
        spans = [trace_pb2.Span(trace_id=(k + 1).to_bytes(16, "big"), span_id=(k + 1).to_bytes(8, "big"),
                                name=f"GET /api/v1/items/{k}", kind=2, start_time_unix_nano=now - 5_000_000,
                                end_time_unix_nano=now - 5_000_000 + 1_000_000 + k % 7_000_000)
                 for k in range(first, min(keys, first + per_request))]
        out.append(trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
            resource=res, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])]).SerializeToString())
    return out


def scrape(port: int) -> tuple[float, bytes]:
    t = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=300) as r:
        body = r.read()
    return time.perf_counter() - t, body


def run(series: int, limit: int, workdir: Path) -> dict:
    keys = series // SERIES_PER_KEY
    ports = {k: free_port() for k in ("grpc", "prom", "health", "metrics")}
    path = workdir / f"card-{series}-{limit}.yaml"
    path.write_text(config(ports, limit))
    proc, log = start_healthy(BIN, path, ports["health"])
    try:
        time.sleep(1.0)
        idle = status_kib(proc.pid, "VmRSS")
        payloads = requests_for(keys)
        channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}",
                                        options=[("grpc.max_send_message_length", 64 << 20)])
        call = channel.unary_unary(EXPORT)
        for _ in range(2):
            for p in payloads:
                call(p, timeout=60)
        channel.close()
        want_keys = keys if limit == 0 else min(keys, limit) + (1 if keys > limit else 0)
        deadline = time.monotonic() + 300
        while True:
            _, body = scrape(ports["prom"])
            held = body.count(CALLS.encode())
            if held >= want_keys or time.monotonic() > deadline:
                break
            time.sleep(1)
        time.sleep(2)  # a flush or two more: steady state
        rss = status_kib(proc.pid, "VmRSS")
        times, body = [], b""
        for _ in range(SCRAPES):
            t, body = scrape(ports["prom"])
            times.append(t)
        lines = [ln for ln in body.split(b"\n") if ln and not ln.startswith(b"#")]
        overflow_calls = 0
        for ln in lines:
            if ln.startswith(CALLS.encode()) and b'otel_metric_overflow="true"' in ln:
                overflow_calls = int(float(ln.rsplit(b" ", 1)[1].split(b" ")[0]))
        return {
            "series": series, "keys": keys, "limit": limit, "held_keys": body.count(CALLS.encode()),
            "want_keys": want_keys, "prom_series": len(lines), "overflow_calls": overflow_calls,
            "idle_mib": idle / 1024, "rss_mib": rss / 1024, "peak_mib": status_kib(proc.pid, "VmHWM") / 1024,
            "scrape_s": statistics.median(times), "scrape_mb": len(body) / 1e6,
        }
    finally:
        stop_collector(proc, log)


def main() -> int:
    if not BIN.is_file():
        print(f"{BIN} does not exist: build it with `cargo build --release --bin otelstack-collector`", file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-card-") as d:
        for series in SIZES:
            results.append(run(series, 0, Path(d)))
            print(f"   {results[-1]}", file=sys.stderr)
        results.append(run(max(SIZES), LIMIT, Path(d)))
        print(f"   {results[-1]}", file=sys.stderr)
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    out = ["# Cardinality: spanmetrics -> prometheus exporter\n",
           f"Load average at the end {load}. {SERIES_PER_KEY} Prometheus series per spanmetrics key.\n",
           "| target series | spanmetrics keys sent | aggregation_cardinality_limit | keys held (want) | series in the scrape | "
           "idle RSS MiB | RSS with series MiB | peak RSS MiB | bytes RSS per series | scrape s (median) | scrape MB |",
           "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    ok = True
    for r in results:
        per = (r["rss_mib"] - r["idle_mib"]) * 1024 * 1024 / max(1, r["prom_series"])
        good = r["held_keys"] == r["want_keys"]
        if r["limit"]:
            # everything past the limit lands in the overflow key: 2 calls per key sent
            good &= r["overflow_calls"] == 2 * (r["keys"] - r["limit"])
        ok &= good
        out.append(f"| {r['series']:,} | {r['keys']:,} | {r['limit'] or 'none'} | {r['held_keys']:,} ({r['want_keys']:,}) | "
                   f"{r['prom_series']:,} | {r['idle_mib']:.1f} | {r['rss_mib']:.1f} | {r['peak_mib']:.1f} | {per:,.0f} | "
                   f"{r['scrape_s']:.2f} | {r['scrape_mb']:.1f} |" + ("" if good else " **MISMATCH**"))
    limited = results[-1]
    out.append(f"\nWith the limit, the overflow key counted {limited['overflow_calls']:,} calls "
               f"(want {2 * max(0, limited['keys'] - LIMIT):,}: two spans for each key past the limit).")
    md = "\n".join(out) + "\n"
    print(md)
    (ROOT / "target/bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "target/bench/cardinality.md").write_text(md)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
