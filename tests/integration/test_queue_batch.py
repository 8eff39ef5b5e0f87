"""`sending_queue.batch` (otelcol's exporter-side batching) with the real
collector and an OTLP/gRPC sink:

- many small requests in, fewer and larger requests out: each merged request
  reaches `min_size` (only the last one, sent by `flush_timeout`, is smaller),
  a request larger than `max_size` is split exactly, every span once;
- with `storage: file_storage` the queue keeps the unbatched requests: the
  collector acknowledges them, is killed with SIGKILL while the sink is down,
  and after the restart every acknowledged span arrives, merged.
"""

from __future__ import annotations

from collections import Counter

from conftest import Collector, GrpcSink, Ports, config_yaml, free_port, otlp_exporter, pipeline
from otlp_util import grpc_export, make_span, to_yaml, trace_request

RETRY = {"initial_interval": "200ms", "max_interval": "1s", "max_elapsed_time": "0s"}


def send(port: int, prefix: str, count: int, per_request: int) -> list[str]:
    names = []
    for i in range(count):
        spans = [make_span(f"{prefix}-{i}-{j}") for j in range(per_request)]
        grpc_export(port, trace_request(spans))
        names += [s.name for s in spans]
    return names


def sizes(reqs) -> list[int]:
    return [sum(len(ss.spans) for rs in r.resource_spans for ss in rs.scope_spans) for r in reqs]


def names(sink: GrpcSink) -> Counter:
    return Counter(sp.name for _, _, sp in sink.spans())


def test_small_requests_are_merged_to_min_size_and_split_at_max_size(collector, grpc_sink, ports):
    batch = {"min_size": 20, "max_size": 30, "flush_timeout": "1s"}
    exporter = otlp_exporter(grpc_sink.port, sending_queue={"num_consumers": 2, "batch": batch})
    collector(config_yaml(ports, exporters={"otlp": exporter}, pipelines={"traces": pipeline(["otlp"])}))

    # 100 requests of 3 spans: each flush takes 7 requests (21 spans); the
    # last 2 requests (6 spans) wait for flush_timeout
    sent = send(ports.grpc, "small", 100, 3)
    reqs = grpc_sink.wait_for("traces", 300, timeout=30)
    assert sorted(sizes(reqs)) == [6] + [21] * 14
    assert names(grpc_sink) == Counter(sent), "every span exactly once"

    # requests of 50 spans are over max_size: each is split into 30 + 20
    sent += send(ports.grpc, "large", 5, 50)
    reqs = grpc_sink.wait_for("traces", 550, timeout=30)
    assert sorted(sizes(reqs[15:])) == [20] * 5 + [30] * 5
    assert names(grpc_sink) == Counter(sent), "every span exactly once"


def file_queue_config(ports: Ports, sink_port: int, storage) -> str:
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"}}}},
        "exporters": {"otlp": {
            "endpoint": f"127.0.0.1:{sink_port}", "tls": {"insecure": True}, "timeout": "2s",
            "retry_on_failure": RETRY,
            "sending_queue": {"storage": "file_storage/queue",
                              "batch": {"min_size": 50, "max_size": 80, "flush_timeout": "500ms"}},
        }},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"},
                       "file_storage/queue": {"directory": str(storage), "create_directory": True}},
        "service": {"extensions": ["health_check", "file_storage/queue"],
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp"]}},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    return to_yaml(cfg) + "\n"


def test_file_queue_with_batching_delivers_every_acknowledged_span_after_a_kill_9(tmp_path):
    ports, sink_port = Ports.new(), free_port()
    text = file_queue_config(ports, sink_port, tmp_path / "storage")
    first = Collector(text, tmp_path / "collectors", name="before-kill")
    second, sink = None, None
    try:
        first.wait_healthy()
        # the sink is down: every request is acknowledged into the file queue
        # and the merged batches keep failing
        sent = send(ports.grpc, "kept", 40, 5)
        first.proc.kill()  # SIGKILL: no shutdown, no flush
        first.proc.wait(5)
        first.close()

        sink = GrpcSink(port=sink_port)
        second = Collector(text, tmp_path / "collectors", name="after-kill")
        second.wait_healthy()
        reqs = sink.wait_for("traces", 200, timeout=30)
        assert names(sink) == Counter(sent), "every acknowledged span exactly once"
        assert all(s <= 80 for s in sizes(reqs)), sizes(reqs)
        assert len(reqs) < 40, f"the stored requests were not merged: {sizes(reqs)}"
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
            first.proc.wait(5)
        rc = None
        if second is not None:
            rc = second.terminate()
            second.close()
        if sink is not None:
            sink.stop()
    assert rc == 0
