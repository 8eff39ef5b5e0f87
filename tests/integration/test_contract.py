"""No-loss contract, in the spirit of otelcol's receivertest: 4 concurrent
senders push spans with unique ids through `otlp receiver -> batch -> otlp
exporter` into a gRPC sink that fails at random, transiently (UNAVAILABLE)
and permanently (INVALID_ARGUMENT). The sink records the ids of every call
and its outcome. Then:

- every id acknowledged to a sender was delivered, or travelled in a call the
  sink permanently rejected;
- no id is delivered that was never sent;
- an id is delivered more than once only if a call carrying it failed
  transiently (so the exporter retried it).
"""

from __future__ import annotations

import random
import struct
import threading
import time
from collections import Counter
from concurrent import futures

import grpc
from conftest import Ports, config_yaml, free_port, pipeline
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from otlp_util import make_span, trace_request

SENDERS = 4
REQUESTS_PER_SENDER = 400
SPANS_PER_REQUEST = 10
SEND_WINDOW = 20.0  # seconds; senders stop early when out of time
P_TRANSIENT, P_PERMANENT = 0.25, 0.10


class FlakySink(trace_service_pb2_grpc.TraceServiceServicer):
    """Traces sink that answers each call OK, UNAVAILABLE or INVALID_ARGUMENT
    at random (seeded) and logs (outcome, span ids) for every call."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.calls: list[tuple[str, list[bytes]]] = []
        self.port = free_port()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                                  options=[("grpc.max_receive_message_length", 64 << 20)])
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self.server)
        assert self.server.add_insecure_port(f"127.0.0.1:{self.port}") == self.port
        self.server.start()

    def Export(self, request, context):
        ids = [sp.span_id for rs in request.resource_spans for ss in rs.scope_spans for sp in ss.spans]
        with self.lock:
            roll = self.rng.random()
            outcome = "transient" if roll < P_TRANSIENT else "permanent" if roll < P_TRANSIENT + P_PERMANENT else "ok"
            self.calls.append((outcome, ids))
        if outcome == "transient":
            context.abort(grpc.StatusCode.UNAVAILABLE, "sink: try again")
        if outcome == "permanent":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sink: rejected for good")
        return trace_service_pb2.ExportTraceServiceResponse()

    def ids(self, outcome: str) -> list[bytes]:
        with self.lock:
            return [i for o, ids in self.calls if o == outcome for i in ids]

    def outcomes(self) -> Counter:
        with self.lock:
            return Counter(o for o, _ in self.calls)

    def stop(self):
        self.server.stop(grace=1).wait(5)


def span_id(sender: int, seq: int) -> bytes:
    return struct.pack(">HxxI", sender + 1, seq)


def test_acknowledged_spans_are_delivered_or_permanently_rejected(collector):
    sink = FlakySink(seed=3)
    try:
        run_contract(collector, sink)
    finally:
        sink.stop()


def run_contract(collector, sink: FlakySink):
    ports = Ports.new()
    exporter = {
        "endpoint": f"127.0.0.1:{sink.port}", "tls": {"insecure": True}, "timeout": "5s",
        "retry_on_failure": {"enabled": True, "initial_interval": "10ms", "max_interval": "50ms",
                             "randomization_factor": 0.5, "max_elapsed_time": 0},
        "sending_queue": {"queue_size": 5000, "num_consumers": 4},
    }
    cfg = config_yaml(ports, exporters={"otlp": exporter},
                      processors={"batch": {"send_batch_size": 50, "timeout": "20ms"}},
                      pipelines={"traces": pipeline(["otlp"], processors=["batch"])})
    collector(cfg)

    sent: set[bytes] = set()
    acked: set[bytes] = set()
    refused = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + SEND_WINDOW

    def sender(n: int):
        with grpc.insecure_channel(f"127.0.0.1:{ports.grpc}") as ch:
            export = trace_service_pb2_grpc.TraceServiceStub(ch).Export
            for r in range(REQUESTS_PER_SENDER):
                if time.monotonic() > deadline:
                    return
                ids = [span_id(n, r * SPANS_PER_REQUEST + j) for j in range(SPANS_PER_REQUEST)]
                req = trace_request([make_span(f"s{n}-{r}", span_id=i) for i in ids])
                with lock:
                    sent.update(ids)
                try:
                    export(req, timeout=10)
                except grpc.RpcError as e:
                    with lock:
                        refused[e.code().name] += 1
                    continue
                with lock:
                    acked.update(ids)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SEND_WINDOW + 15)
    assert not any(t.is_alive() for t in threads), "a sender did not finish"
    assert len(acked) >= SPANS_PER_REQUEST * SENDERS * 5, f"too little was acknowledged: {len(acked)}; {refused}"

    # wait (bounded) until every acknowledged id is accounted for
    settle = time.monotonic() + 30
    while True:
        accounted = set(sink.ids("ok")) | set(sink.ids("permanent"))
        missing = acked - accounted
        if not missing or time.monotonic() > settle:
            break
        time.sleep(0.1)

    delivered = Counter(sink.ids("ok"))
    rejected = set(sink.ids("permanent"))
    retried = set(sink.ids("transient"))
    outcomes = sink.outcomes()
    # the sink really did fail both ways, so the properties below were exercised
    assert outcomes["transient"] > 0 and outcomes["permanent"] > 0 and outcomes["ok"] > 0, outcomes

    assert not missing, (f"{len(missing)} of {len(acked)} acknowledged spans were neither delivered nor "
                         f"permanently rejected; sink calls {dict(outcomes)}")
    never_sent = set(delivered) - sent
    assert not never_sent, f"{len(never_sent)} delivered span ids were never sent"
    duplicated = {i for i, c in delivered.items() if c > 1}
    assert duplicated <= retried, (f"{len(duplicated - retried)} span ids were delivered more than once "
                                   f"without a transient failure to explain a retry")
    # a permanently rejected call is dropped, not delivered later as well
    both = rejected & set(delivered)
    assert not both, f"{len(both)} span ids were both permanently rejected and delivered"
