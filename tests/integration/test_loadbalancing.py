"""The `loadbalancing` exporter against real gateways: three otelstack
collectors behind one agent, each gateway forwarding to its own OTLP sink so
the test sees where every span went. Where a trace must land is predicted by
a Python model of otelcol-contrib's ring (lb_util.RingModel), so the tests
also check that routing matches upstream's algorithm trace by trace."""

from __future__ import annotations

import random
import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import GrpcSink, free_port
from lb_util import (Dnsmasq, RingModel, agent_yaml, balanced_port, balanced_ports, gateway_yaml, traces,
                     wait_until)
from otlp_util import make_span, trace_request

GATEWAY_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")


class Sender:
    """Sends spans to the agent over one channel; `acked` keeps the span ids
    of every request the agent accepted."""

    def __init__(self, port: int):
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = trace_service_pb2_grpc.TraceServiceStub(self.channel)
        self.acked: set = set()
        self.lock = threading.Lock()

    def send(self, spans, rng: random.Random):
        """One request; its spans under two resources (two services), so one
        trace's spans travel in several ResourceSpans and requests."""
        half = len(spans) // 2
        req = trace_request([make_span(n, trace_id=t, span_id=s) for t, s, n in spans[:half]],
                            resource={"service.name": f"svc-{rng.randrange(3)}"})
        second = trace_request([make_span(n, trace_id=t, span_id=s) for t, s, n in spans[half:]],
                               resource={"service.name": f"svc-{rng.randrange(3)}"})
        req.resource_spans.extend(second.resource_spans)
        for attempt in range(50):
            try:
                self.stub.Export(req, timeout=10)
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE, f"agent refused for good: {e}"
                time.sleep(0.2)
        else:
            pytest.fail("the agent stayed unavailable")
        with self.lock:
            self.acked.update(s for _, s, _ in spans)

    def send_all(self, spans, per_request: int, seed: int, workers: int = 4, pause: float = 0.0):
        rng = random.Random(seed)
        shuffled = list(spans)
        rng.shuffle(shuffled)
        chunks = [shuffled[i:i + per_request] for i in range(0, len(shuffled), per_request)]

        def one(chunk):
            self.send(chunk, random.Random(len(chunk) + seed))
            if pause:
                time.sleep(pause)

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(one, chunks))

    def close(self):
        self.channel.close()


def arrivals(sinks: dict) -> dict:
    """span id -> list of gateways (by name) it arrived at."""
    out = defaultdict(list)
    for name, sink in sinks.items():
        for resource, _, span in sink.spans():
            assert resource["service.name"].startswith("svc-"), "the span keeps its resource"
            out[span.span_id].append(name)
    return out


def all_arrived(sinks: dict, spans) -> bool:
    where = arrivals(sinks)
    return all(s in where for _, s, _ in spans)


def total(sinks: dict) -> int:
    return sum(len(s.spans()) for s in sinks.values())


def backends_of(agent) -> set:
    """The backends the agent last reported (its 'backends changed' log)."""
    lines = [l for l in agent.stderr().splitlines() if "load-balancing backends changed" in l]
    return set(re.findall(r"127\.0\.0\.\d+:\d+", lines[-1])) if lines else set()


def start_gateways(collector, addresses_ports):
    """A gateway per (address, port), each forwarding to its own sink."""
    sinks, gateways = {}, {}
    for address, port in addresses_ports:
        endpoint = f"{address}:{port}"
        sinks[endpoint] = GrpcSink()
        gateways[endpoint] = collector(gateway_yaml(address, port, sinks[endpoint].port), name=f"gw-{address}-{port}")
    return sinks, gateways


@pytest.fixture
def dnsmasq(tmp_path):
    server = Dnsmasq(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def cleanup():
    items = []
    yield items
    for item in items:
        item.close() if hasattr(item, "close") else item.stop()


def test_every_trace_lands_whole_on_one_gateway_and_the_split_is_even(collector, cleanup):
    spans = traces(1000, 10, seed=1)
    ports = balanced_ports(3, {t for t, _, _ in spans})
    sinks, _ = start_gateways(collector, [("127.0.0.1", p) for p in ports])
    cleanup.extend(sinks.values())
    agent_port = free_port()
    collector(agent_yaml(agent_port, {"static": {"hostnames": list(sinks)}}), name="agent")
    sender = Sender(agent_port)
    cleanup.append(sender)

    sender.send_all(spans, per_request=50, seed=2)
    assert len(sender.acked) == 10_000
    wait_until(lambda: total(sinks) >= 10_000, 60, "10,000 spans at the gateways")

    model = RingModel(list(sinks))
    where = arrivals(sinks)
    assert len(where) == 10_000 and all(len(g) == 1 for g in where.values()), \
        "every span arrives exactly once"
    per_gateway = defaultdict(set)
    for trace_id, span_id, _ in spans:
        (gateway,) = where[span_id]
        assert gateway == model.owner(trace_id), "the trace went where upstream's ring puts it"
        per_gateway[gateway].add(trace_id)
    counts = {g: len(per_gateway[g]) for g in sinks}
    assert sum(counts.values()) == 1000, "no trace is split across gateways"
    for g, n in counts.items():
        assert abs(n - 1000 / 3) <= 0.15 * 1000 / 3, f"uneven split {counts}"


def test_dns_resolver_follows_added_and_removed_backends(collector, dnsmasq, cleanup):
    port = balanced_port(GATEWAY_HOSTS)
    sinks, _ = start_gateways(collector, [(h, port) for h in GATEWAY_HOSTS])
    cleanup.extend(sinks.values())
    gw2, gw3, gw4 = (f"{h}:{port}" for h in GATEWAY_HOSTS)
    dnsmasq.set_hosts("gateways.lb.test", GATEWAY_HOSTS[:2])
    agent_port = free_port()
    resolver = {"dns": {"hostname": "gateways.lb.test", "port": port, "interval": "300ms", "timeout": "1s",
                        "nameserver": dnsmasq.address}}
    agent = collector(agent_yaml(agent_port, resolver), name="agent")
    sender = Sender(agent_port)
    cleanup.append(sender)
    wait_until(lambda: backends_of(agent) == {gw2, gw3}, 15, "the agent to resolve two gateways")

    def phase(seed: int, backends: list):
        spans = traces(200, 5, seed=seed)
        sender.send_all(spans, per_request=40, seed=seed)
        wait_until(lambda: all_arrived(sinks, spans), 30, f"phase {seed} to arrive")
        model, where = RingModel(backends), arrivals(sinks)
        for trace_id, span_id, _ in spans:
            assert where[span_id] == [model.owner(trace_id)], f"phase {seed}: a span not at its trace's owner"
        return {g: sum(1 for _, s, _ in spans if where[s] == [g]) for g in sinks}

    first = phase(10, [gw2, gw3])
    assert first[gw4] == 0 and first[gw2] > 0 and first[gw3] > 0

    dnsmasq.set_hosts("gateways.lb.test", GATEWAY_HOSTS)
    wait_until(lambda: backends_of(agent) == {gw2, gw3, gw4}, 15, "the agent to see the added gateway")
    second = phase(11, [gw2, gw3, gw4])
    assert all(n > 0 for n in second.values()), second

    dnsmasq.set_hosts("gateways.lb.test", [GATEWAY_HOSTS[0], GATEWAY_HOSTS[2]])
    wait_until(lambda: backends_of(agent) == {gw2, gw4}, 15, "the agent to drop the removed gateway")
    third = phase(12, [gw2, gw4])
    assert third[gw3] == 0 and third[gw2] > 0 and third[gw4] > 0


def test_a_gateway_stopped_mid_stream_loses_nothing_and_only_its_keys_move(collector, dnsmasq, cleanup):
    port = balanced_port(GATEWAY_HOSTS)
    sinks, gateways = start_gateways(collector, [(h, port) for h in GATEWAY_HOSTS])
    cleanup.extend(sinks.values())
    gw2, gw3, gw4 = (f"{h}:{port}" for h in GATEWAY_HOSTS)
    dnsmasq.set_hosts("gateways.lb.test", GATEWAY_HOSTS)
    agent_port = free_port()
    resolver = {"dns": {"hostname": "gateways.lb.test", "port": port, "interval": "300ms", "timeout": "1s",
                        "nameserver": dnsmasq.address}}
    agent = collector(agent_yaml(agent_port, resolver), name="agent")
    sender = Sender(agent_port)
    cleanup.append(sender)
    wait_until(lambda: backends_of(agent) == {gw2, gw3, gw4}, 15, "the agent to resolve three gateways")
    before, after = RingModel([gw2, gw3, gw4]), RingModel([gw2, gw4])

    # Phase A with all three up; phase B while gw3 is stopped and, later,
    # leaves DNS; phase C once the agent has dropped it.
    a, b, c = traces(300, 10, seed=20), traces(300, 10, seed=21), traces(300, 10, seed=22)
    sender.send_all(a, per_request=50, seed=20)
    wait_until(lambda: all_arrived(sinks, a), 30, "phase A to arrive")

    sending = threading.Thread(target=sender.send_all, args=(b, 25, 21), kwargs={"workers": 2, "pause": 0.05})
    sending.start()
    wait_until(lambda: len(sender.acked) >= 3000 + 1000, 30, "a third of phase B to be accepted")
    assert gateways[gw3].terminate() == 0, "the stopped gateway drains and exits cleanly"
    sending.join(60)
    assert not sending.is_alive()
    dnsmasq.set_hosts("gateways.lb.test", [GATEWAY_HOSTS[0], GATEWAY_HOSTS[2]])
    wait_until(lambda: backends_of(agent) == {gw2, gw4}, 15, "the agent to drop the stopped gateway")
    sender.send_all(c, per_request=50, seed=22)

    everything = a + b + c
    assert len(sender.acked) == len(everything)
    wait_until(lambda: all_arrived(sinks, everything), 60,
               "every accepted span to arrive somewhere")
    where = arrivals(sinks)
    moved = {"B": 0, "C": 0}
    for phase, spans in (("A", a), ("B", b), ("C", c)):
        for trace_id, span_id, _ in spans:
            owner = before.owner(trace_id)
            got = set(where[span_id])
            if owner != gw3:
                assert got == {owner}, f"phase {phase}: a trace of a running gateway moved ({got} != {owner})"
            elif phase == "A":
                assert got == {gw3}, "phase A went to gw3 while it ran"
            elif phase == "B":
                assert got <= {gw3, after.owner(trace_id)}, "gw3's keys move only to their new owner"
                moved["B"] += gw3 not in got
            else:
                assert got == {after.owner(trace_id)}, "after removal gw3's keys go to their new owner"
                moved["C"] += 1
    # Spans of gw3's traces accepted after it stopped waited in its queue in
    # the agent and reached their new owner only through re-routing.
    assert moved["B"] > 0 and moved["C"] > 0, moved
