"""Overload with memory_limiter: senders push far more than the pipeline can
pass (the backend is down, so everything piles up in the exporter queue).
The collector's resident memory must stay under the configured limit
(sampled from /proc), clients must see UNAVAILABLE, the health check must
stay 200, and once the backend is back the queue drains and data is accepted
again.
"""

from __future__ import annotations

import threading
import time

import grpc
import requests
from conftest import GrpcSink, config_yaml, free_port, otlp_exporter, pipeline
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from otlp_util import make_span, trace_request

LIMIT_MIB = 160


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def big_request(tag: str):
    attrs = {f"attr.{k}": "x" * 200 for k in range(10)}
    return trace_request([make_span(f"{tag}-{i}", attributes=attrs) for i in range(200)])


def test_memory_stays_under_the_limit_and_the_collector_recovers(collector, ports):
    sink_port = free_port()  # nothing listens yet: the exporter queue fills
    limiter = {"memory_limiter": {"check_interval": "100ms", "limit_mib": LIMIT_MIB, "spike_limit_mib": 40}}
    exporter = otlp_exporter(sink_port, retry_on_failure={"initial_interval": "200ms", "max_interval": "500ms",
                                                          "max_elapsed_time": "0s"},
                             sending_queue={"queue_size": 100000})
    cfg = config_yaml(ports, processors={**limiter, "batch": {}}, exporters={"otlp": exporter},
                      pipelines={"traces": pipeline(["otlp"], ["memory_limiter", "batch"])})
    c = collector(cfg)
    pid = c.proc.pid
    counts = {"ok": 0, "unavailable": 0, "other": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def sender(n: int):
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}", options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
            stub = trace_service_pb2_grpc.TraceServiceStub(ch)
            i = 0
            while not stop.is_set():
                try:
                    stub.Export(big_request(f"s{n}-{i}"), timeout=10)
                    key = "ok"
                except grpc.RpcError as e:
                    key = "unavailable" if e.code() == grpc.StatusCode.UNAVAILABLE else "other"
                with lock:
                    counts[key] += 1
                i += 1

    threads = [threading.Thread(target=sender, args=(n,), daemon=True) for n in range(6)]
    for t in threads:
        t.start()
    peak = 0.0
    # At least 15 s of load, then until the limiter has refused (a loaded
    # machine, or parallel test workers, slow the senders down), at most 120 s.
    start = time.monotonic()
    health = []
    while time.monotonic() - start < 15 or (counts["unavailable"] == 0 and time.monotonic() - start < 120):
        peak = max(peak, rss_mib(pid))
        health.append(requests.get(f"http://127.0.0.1:{ports.health}/", timeout=5).status_code)
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(15)
    print(f"overload: peak RSS {peak:.1f} MiB (limit {LIMIT_MIB}), requests {counts}")
    assert counts["ok"] > 0, counts
    assert counts["unavailable"] > 0, f"the limiter never refused: {counts}"
    assert counts["other"] == 0, counts
    assert peak < LIMIT_MIB, f"peak RSS {peak:.0f} MiB over the {LIMIT_MIB} MiB limit"
    assert set(health) == {200}
    # the backend comes back: the queue drains and data is accepted again
    sink = GrpcSink(port=sink_port)
    try:
        deadline = time.monotonic() + 60
        accepted = False
        while time.monotonic() < deadline and not accepted:
            try:
                trace_service_pb2_grpc.TraceServiceStub(grpc.insecure_channel(f"127.0.0.1:{ports.grpc}")).Export(
                    trace_request([make_span("after-recovery")]), timeout=5)
                accepted = True
            except grpc.RpcError:
                time.sleep(0.5)
        assert accepted, "the collector never accepted data again after the backend came back"
        sink.wait_for("traces", lambda reqs: any(s.name == "after-recovery" for r in reqs for rs in r.resource_spans
                                                 for ss in rs.scope_spans for s in ss.spans), timeout=60)
        assert c.terminate() == 0, "the backlog drains into the restored backend before exit"
    finally:
        sink.stop()
