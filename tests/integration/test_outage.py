"""The downstream goes away for 30 s under steady load, and comes back.

- With the in-memory queue (big enough, retrying forever) every span the
  collector acknowledged arrives; a span arrives twice only as part of a
  whole batch sent again (a retry).
- With the file queue (`sending_queue.storage: file_storage`) the collector
  is also killed with SIGKILL during the outage and restarted on the same
  config: every span acknowledged before the kill, and after the restart, is
  delivered once the sink is back; the queue size gauge shows the stored
  backlog after the restart.
- A queue file damaged while the collector is stopped: the damaged record is
  skipped and counted (otelstack_exporter_queue_corrupt_records_total), the
  collector starts and delivers the intact records.

The sender acknowledges a span when the collector answered OK; spans of a
refused request are kept apart and must never arrive.
"""

from __future__ import annotations

import threading
import time

import grpc
import requests
from conftest import Collector, GrpcSink, Ports, free_port
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from otlp_util import make_span, parse_prometheus, sample_value, to_yaml, trace_request

OUTAGE = 30.0
RETRY = {"initial_interval": "200ms", "max_interval": "1s", "max_elapsed_time": "0s"}


def outage_config(ports: Ports, sink_port: int, *, storage_dir=None, batch=True, fsync=False) -> str:
    queue = {"queue_size": 20000}
    extensions = {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}}
    enabled = ["health_check"]
    if storage_dir is not None:
        queue["storage"] = "file_storage/queue"
        extensions["file_storage/queue"] = {"directory": str(storage_dir), "create_directory": True, "fsync": fsync}
        enabled.append("file_storage/queue")
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"}}}},
        "processors": {"batch": {"send_batch_size": 200, "timeout": "200ms"}},
        "exporters": {"otlp": {"endpoint": f"127.0.0.1:{sink_port}", "tls": {"insecure": True},
                               "timeout": "2s", "retry_on_failure": RETRY, "sending_queue": queue}},
        "extensions": extensions,
        "service": {"extensions": enabled,
                    "pipelines": {"traces": {"receivers": ["otlp"], "processors": ["batch"] if batch else [],
                                             "exporters": ["otlp"]}},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    return to_yaml(cfg) + "\n"


class SpanSender(threading.Thread):
    """Sends requests of `per_request` spans with unique ids every `interval`
    seconds (at most `max_requests`), one attempt each, and records which
    span ids were acknowledged and which were refused."""

    def __init__(self, port: int, per_request: int = 5, interval: float = 0.05, max_requests: int = 3000):
        super().__init__(daemon=True)
        self.port, self.per_request, self.interval, self.max_requests = port, per_request, interval, max_requests
        self.acked: list[bytes] = []
        self.refused: list[bytes] = []
        self._stop_flag = threading.Event()
        self._run = threading.Event()
        self._run.set()
        self._idle = threading.Event()
        self._lock = threading.Lock()

    def run(self):
        n = 0
        channel = None
        while not self._stop_flag.is_set() and n < self.max_requests:
            if not self._run.is_set():
                if channel is not None:
                    channel.close()  # a fresh channel after a pause: no reconnect backoff
                    channel = None
                self._idle.set()
                self._run.wait(0.1)
                continue
            self._idle.clear()
            if channel is None:
                channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
                stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            spans = [make_span(f"outage-{n}-{i}") for i in range(self.per_request)]
            ids = [s.span_id for s in spans]
            try:
                stub.Export(trace_request(spans), timeout=10)
                with self._lock:
                    self.acked.extend(ids)
            except grpc.RpcError:
                with self._lock:
                    self.refused.extend(ids)
            n += 1
            time.sleep(self.interval)
        if channel is not None:
            channel.close()
        self._idle.set()

    def pause(self):
        """Returns once no request is in flight."""
        self._run.clear()
        assert self._idle.wait(15), "the sender did not pause"

    def resume(self):
        self._idle.clear()
        self._run.set()

    def stop(self):
        self._stop_flag.set()
        self._run.set()
        self.join(15)
        assert not self.is_alive(), "the sender did not stop"

    def snapshot(self) -> tuple[set, set]:
        with self._lock:
            return set(self.acked), set(self.refused)


def metric(ports: Ports, name: str, **labels):
    text = requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text
    return sample_value(parse_prometheus(text), name, **labels)


def delivered(sinks: list[GrpcSink]) -> set:
    return {sp.span_id for sink in sinks for _, _, sp in sink.spans()}


def wait_delivered(sinks: list[GrpcSink], want: set, timeout: float) -> None:
    """`sinks`: the sink before the outage and the one after (same port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if want <= delivered(sinks):
            return
        time.sleep(0.2)
    missing = want - delivered(sinks)
    raise AssertionError(f"{len(missing)} of {len(want)} acknowledged spans never arrived")


def assert_exactly(sinks: list[GrpcSink], acked: set, refused: set) -> None:
    """The delivered ids are the acknowledged ones; a span arrives twice only
    inside a batch that arrived before with exactly the same spans (a retry)."""
    seen: dict[bytes, int] = {}
    batches: set[tuple] = set()
    for req in [r for sink in sinks for r in sink.requests("traces")]:
        ids = tuple(sp.span_id for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans)
        if any(i in seen for i in ids):
            assert ids in batches, "a span arrived twice outside of a resent batch"
        batches.add(ids)
        for i in ids:
            seen[i] = seen.get(i, 0) + 1
    delivered = set(seen)
    assert not delivered & refused, f"{len(delivered & refused)} refused spans were delivered"
    assert delivered == acked, f"missing {len(acked - delivered)}, never sent {len(delivered - acked)}"


def start_collector(tmp_path, text: str, name: str) -> Collector:
    c = Collector(text, tmp_path / "collectors", name=name)
    c.wait_healthy()
    return c


def stop_collector(c: Collector) -> int:
    rc = c.terminate()
    c.close()
    return rc


def test_memory_queue_loses_nothing_acknowledged_during_a_30s_outage(tmp_path):
    ports, sink_port = Ports.new(), free_port()
    sinks = [GrpcSink(port=sink_port)]
    c = start_collector(tmp_path, outage_config(ports, sink_port), "memory")
    sender = SpanSender(ports.grpc)
    try:
        sender.start()
        time.sleep(3)
        sinks[0].stop()
        time.sleep(OUTAGE)
        sinks.append(GrpcSink(port=sink_port))  # back on the same port
        time.sleep(3)
        sender.stop()
        acked, refused = sender.snapshot()
        assert len(acked) > 2000 and not refused, f"acked {len(acked)}, refused {len(refused)}"
        wait_delivered(sinks, acked, timeout=30)
        time.sleep(0.5)
        assert_exactly(sinks, acked, refused)
    finally:
        sender.stop()
        rc = stop_collector(c)
        sinks[-1].stop()
    assert rc == 0


def test_file_queue_delivers_everything_acknowledged_across_a_kill_9(tmp_path):
    ports, sink_port = Ports.new(), free_port()
    storage = tmp_path / "storage"
    # no batch processor: the receiver answers only after the batch is in the file queue
    text = outage_config(ports, sink_port, storage_dir=storage, batch=False)
    sinks = [GrpcSink(port=sink_port)]
    first = start_collector(tmp_path, text, "before-kill")
    second = None
    sender = SpanSender(ports.grpc)
    try:
        sender.start()
        time.sleep(3)
        sinks[0].stop()
        outage_start = time.monotonic()
        time.sleep(OUTAGE / 3)
        sender.pause()
        acked_before_kill, _ = sender.snapshot()
        first.proc.kill()  # SIGKILL: no shutdown, no flush
        first.proc.wait(5)
        first.close()
        second = start_collector(tmp_path, text, "after-kill")
        backlog = metric(ports, "otelcol_exporter_queue_size", exporter="otlp", data_type="traces")
        assert backlog and backlog > 0, "the queue size gauge shows the stored backlog after the restart"
        sender.resume()
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - outage_start)))
        sinks.append(GrpcSink(port=sink_port))
        time.sleep(3)
        sender.stop()
        acked, refused = sender.snapshot()
        assert acked_before_kill <= acked and len(acked_before_kill) > 500
        assert len(acked) > len(acked_before_kill)
        wait_delivered(sinks, acked, timeout=45)
        time.sleep(0.5)
        assert_exactly(sinks, acked, refused)
        assert metric(ports, "otelstack_exporter_queue_corrupt_records_total", exporter="otlp") == 0
    finally:
        sender.stop()
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait(5)
        rc = stop_collector(second) if second is not None else None
        sinks[-1].stop()
    assert rc == 0


def test_a_damaged_queue_record_is_skipped_and_counted(tmp_path):
    ports, sink_port = Ports.new(), free_port()
    storage = tmp_path / "storage"
    text = outage_config(ports, sink_port, storage_dir=storage, batch=False, fsync=True)
    c = start_collector(tmp_path, text, "fill")
    sender = SpanSender(ports.grpc, per_request=3, interval=0.0, max_requests=5)
    sender.start()
    sender.join(20)
    acked, refused = sender.snapshot()
    assert len(acked) == 15 and not refused
    assert stop_collector(c) == 0  # the sink never came up: all five batches stay on disk

    segments = sorted((storage / "exporter_otlp__traces").glob("*.seg"))
    data = bytearray(b"".join(p.read_bytes() for p in segments))
    assert data.count(b"OSQ1") == 5, "one record per request"
    seg = next(p for p in segments if p.stat().st_size > 0)
    raw = bytearray(seg.read_bytes())
    third = [i for i in range(len(raw)) if raw.startswith(b"OSQ1", i)][2]
    raw[third + 40] ^= 0xFF  # a flipped byte inside the third record's payload
    seg.write_bytes(bytes(raw))

    sink = GrpcSink(port=sink_port)
    c = start_collector(tmp_path, text, "after-damage")
    try:
        wait_delivered([sink], set(sender.acked[:6] + sender.acked[9:]), timeout=20)
        time.sleep(0.5)
        assert_exactly([sink], set(sender.acked[:6] + sender.acked[9:]), set(sender.acked[6:9]))
        assert metric(ports, "otelstack_exporter_queue_corrupt_records_total", exporter="otlp") == 1
        assert "damaged record" in c.stderr()
    finally:
        rc = stop_collector(c)
        sink.stop()
    assert rc == 0
