#!/usr/bin/env python3
"""Benchmark: the agent's cost of the `loadbalancing` exporter.

Same run, same load generator, one after the other:
  A. agent: otlp receiver -> batch -> loadbalancing (static, 3 gateways)
  B. agent: otlp receiver -> batch -> otlp (1 gateway)
Gateways are otelstack-collector too (otlp receiver -> debug exporter,
basic verbosity). The generator sends pre-encoded requests of 100 spans
(random trace ids) flat out from BENCH_LB_THREADS threads for
BENCH_LB_SECONDS. Reported per configuration: spans/s the agent accepted,
agent CPU seconds per million spans (from /proc/PID/stat), and a check that
the gateways accepted every span the agent acknowledged (their
otelcol_receiver_accepted_spans_total).

Usage: .venv/bin/python scripts/bench_loadbalancing.py  (make bench runs it)
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

ROOT = Path(__file__).resolve().parents[1]
BIN = os.environ.get("OTELSTACK_COLLECTOR", str(ROOT / "target/release/otelstack-collector"))
SECONDS = float(os.environ.get("BENCH_LB_SECONDS", "15"))
THREADS = int(os.environ.get("BENCH_LB_THREADS", "4"))
REPEAT = int(os.environ.get("BENCH_LB_REPEAT", "3"))
PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_pool(n: int = 200) -> list:
    """Pre-encoded requests of 100 spans: 10 traces of 10 spans each."""
    out = []
    for _ in range(n):
        spans = []
        for _ in range(10):
            trace_id = os.urandom(16)
            for j in range(10):
                spans.append(trace_pb2.Span(
                    trace_id=trace_id, span_id=os.urandom(8), name=f"op-{j}", kind=2,
                    start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_000_001_000_000,
                    attributes=[common_pb2.KeyValue(key="http.method", value=common_pb2.AnyValue(string_value="GET")),
                                common_pb2.KeyValue(key="http.status_code", value=common_pb2.AnyValue(int_value=200))]))
        res = resource_pb2.Resource(attributes=[
            common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="bench"))])
        req = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
            trace_pb2.ResourceSpans(resource=res, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])])
        out.append(req.SerializeToString())
    return out


class Proc:
    def __init__(self, name: str, config: str, workdir: Path, health: int):
        self.name = name
        path = workdir / f"{name}.yaml"
        path.write_text(config)
        self.log = open(workdir / f"{name}.log", "wb")
        self.proc = subprocess.Popen([BIN, "--config", str(path)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{health}/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        sys.exit(f"{name} did not start; see {workdir / (name + '.log')}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


def config(grpc_port: int, exporters: dict, health: int, metrics: int) -> str:
    import json
    name = next(iter(exporters))
    pipeline = {"receivers": ["otlp"], "exporters": [name]}
    if name != "debug":
        pipeline["processors"] = ["batch"]
    return json.dumps({
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "processors": {"batch": {}},
        "exporters": exporters,
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health}"}},
        "service": {"extensions": ["health_check"], "pipelines": {"traces": pipeline},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{metrics}"}}},
    })


def accepted(metrics_port: int) -> float:
    text = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    return sum(float(m.group(1)) for m in re.finditer(r"^otelcol_receiver_accepted_spans_total\{[^}]*\} (\S+)$", text, re.M))


def run(kind: str, pool: list, workdir: Path) -> dict:
    n_gw = 3 if kind == "loadbalancing" else 1
    gateways, gw_ports = [], []
    for i in range(n_gw):
        port, health, metrics = free_port(), free_port(), free_port()
        gateways.append((Proc(f"{kind}-gw{i}", config(port, {"debug": {}}, health, metrics), workdir, health), metrics))
        gw_ports.append(port)
    queue = {"block_on_overflow": True}
    if kind == "loadbalancing":
        exporter = {"loadbalancing": {"protocol": {"otlp": {"tls": {"insecure": True}, "sending_queue": queue}},
                                      "resolver": {"static": {"hostnames": [f"127.0.0.1:{p}" for p in gw_ports]}}}}
    else:
        exporter = {"otlp": {"endpoint": f"127.0.0.1:{gw_ports[0]}", "tls": {"insecure": True}, "sending_queue": queue}}
    port, health, metrics = free_port(), free_port(), free_port()
    agent = Proc(f"{kind}-agent", config(port, exporter, health, metrics), workdir, health)

    sent = [0] * THREADS
    stop = time.monotonic() + SECONDS

    def load(i: int):
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            call = ch.unary_unary(PATH)
            k = i
            while time.monotonic() < stop:
                call(pool[k % len(pool)], timeout=30)
                sent[i] += 100
                k += THREADS

    cpu0, t0 = agent.cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=load, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    total = sum(sent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(accepted(m) for _, m in gateways) < total:
        time.sleep(0.2)
    cpu = agent.cpu_seconds() - cpu0
    arrived = sum(accepted(m) for _, m in gateways)
    per_gw = [int(accepted(m)) for _, m in gateways]
    agent.stop()
    for g, _ in gateways:
        g.stop()
    return {"kind": kind, "spans": total, "arrived": int(arrived), "per_gw": per_gw,
            "spans_per_s": total / elapsed, "cpu_us_per_span": cpu / total * 1e6}


def main():
    if not Path(BIN).exists():
        sys.exit(f"{BIN} not found: cargo build --release --bin otelstack-collector")
    pool = requests_pool()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-lb-") as tmp:
        for r in range(REPEAT):
            order = ["loadbalancing", "otlp"] if r % 2 == 0 else ["otlp", "loadbalancing"]
            for kind in order:
                res = run(kind, pool, Path(tmp))
                results.append(res)
                print(f"run {r + 1} {kind:13} {res['spans_per_s']:9.0f} spans/s  "
                      f"{res['cpu_us_per_span']:6.2f} µs CPU/span  arrived {res['arrived']}/{res['spans']} {res['per_gw']}",
                      flush=True)
                if res["arrived"] != res["spans"]:
                    sys.exit(f"{kind}: gateways accepted {res['arrived']} of {res['spans']} acknowledged spans")
    print(f"\n{THREADS} sender threads, {SECONDS:.0f} s per run\n")
    print(f"| exporter | runs | agent spans/s (median) | agent CPU µs/span (median) |\n|---|---|---|---|")
    for kind in ("loadbalancing", "otlp"):
        rs = [x for x in results if x["kind"] == kind]
        rate = statistics.median(x["spans_per_s"] for x in rs)
        cpu = statistics.median(x["cpu_us_per_span"] for x in rs)
        label = "loadbalancing → 3 gateways" if kind == "loadbalancing" else "otlp → 1 gateway"
        print(f"| {label} | {len(rs)} | {rate:,.0f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
