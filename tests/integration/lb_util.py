"""Helpers for test_loadbalancing.py: a Python model of otelcol-contrib's
consistent-hash ring (to predict where each trace must land), a dnsmasq
server on a loopback port with a hosts file the test rewrites, and the
configs of the gateways and of the load-balancing agent."""

from __future__ import annotations

import bisect
import os
import random
import signal
import socket
import subprocess
import time
import zlib
from pathlib import Path

from conftest import free_port, wait_tcp
from otlp_util import to_yaml

MAX_POSITIONS = 36000
WEIGHT = 100


class RingModel:
    """otelcol-contrib's ring: 100 positions per endpoint at
    crc32(endpoint + [i]) % 36000, endpoints sorted, a taken position kept
    by the first; a key goes to the first position at or after crc32(key)."""

    def __init__(self, endpoints):
        taken = {}
        for ep in sorted(set(endpoints)):
            for i in range(WEIGHT):
                taken.setdefault(zlib.crc32(ep.encode() + bytes([i])) % MAX_POSITIONS, ep)
        self.items = sorted(taken.items())
        self.positions = [p for p, _ in self.items]

    def owner(self, key: bytes) -> str:
        at = bisect.bisect_left(self.positions, zlib.crc32(key) % MAX_POSITIONS)
        return self.items[at % len(self.items)][1]

    def shares(self) -> dict:
        out = {}
        prev = self.positions[-1] - MAX_POSITIONS
        for p, ep in self.items:
            out[ep] = out.get(ep, 0) + (p - prev) / MAX_POSITIONS
            prev = p
        return out

    def max_deviation(self) -> float:
        n = len(self.shares())
        return max(abs(s * n - 1) for s in self.shares().values())


def port_free_on(port: int, hosts) -> bool:
    for host in hosts:
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def balanced_port(hosts, within: float = 0.05) -> int:
    """A port free on every host whose ring (hosts:port) gives each backend
    its share of the circle within `within` of even. Upstream's 100
    positions per backend leave about one set in eight of three backends
    outside ±15%, so the test picks a set as an operator could not."""
    for _ in range(500):
        port = free_port()
        if port_free_on(port, hosts) and RingModel([f"{h}:{port}" for h in hosts]).max_deviation() <= within:
            return port
    raise RuntimeError("no balanced free port found")


def balanced_ports(count: int, trace_ids, within: float = 0.10) -> list:
    """`count` free ports on 127.0.0.1 over which upstream's ring splits
    `trace_ids` within `within` of even (see balanced_port for why)."""
    for _ in range(500):
        ports = [free_port() for _ in range(count)]
        model = RingModel([f"127.0.0.1:{p}" for p in ports])
        per = {}
        for t in trace_ids:
            per[model.owner(t)] = per.get(model.owner(t), 0) + 1
        even = len(trace_ids) / count
        if len(per) == count and all(abs(n - even) <= within * even for n in per.values()):
            return ports
    raise RuntimeError("no balanced free ports found")


def gateway_yaml(address: str, port: int, sink_port: int) -> str:
    """A gateway: OTLP/gRPC in on address:port, everything to its sink."""
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"{address}:{port}"}}}},
        "exporters": {"otlp": {"endpoint": f"127.0.0.1:{sink_port}", "tls": {"insecure": True},
                               "retry_on_failure": {"initial_interval": "100ms", "max_interval": "500ms"}}},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{free_port()}"}},
        "service": {"extensions": ["health_check"],
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["otlp"]}},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{free_port()}"}}},
    }
    return to_yaml(cfg) + "\n"


def agent_yaml(grpc_port: int, resolver: dict, exporter_extra: dict | None = None) -> str:
    lb = {
        "routing_key": "traceID",
        "protocol": {"otlp": {"tls": {"insecure": True}, "timeout": "2s",
                              "retry_on_failure": {"initial_interval": "200ms", "max_interval": "1s",
                                                   "max_elapsed_time": "0s"}}},
        "resolver": resolver,
        **(exporter_extra or {}),
    }
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "exporters": {"loadbalancing": lb},
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{free_port()}"}},
        "service": {"extensions": ["health_check"],
                    "pipelines": {"traces": {"receivers": ["otlp"], "exporters": ["loadbalancing"]}},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{free_port()}"}}},
    }
    return to_yaml(cfg) + "\n"


def traces(count: int, spans_per_trace: int, seed: int):
    """`count` traces of `spans_per_trace` spans: (trace_id, span_id, name)."""
    rng = random.Random(seed)
    out = []
    for t in range(count):
        trace_id = rng.randbytes(16)
        for s in range(spans_per_trace):
            out.append((trace_id, rng.randbytes(8), f"t{seed}-{t}-s{s}"))
    return out


class Dnsmasq:
    """dnsmasq answering from one hosts file on 127.0.0.1:port (UDP and TCP);
    `set_hosts` rewrites the file and makes dnsmasq re-read it (SIGHUP)."""

    def __init__(self, workdir: Path):
        self.hosts = workdir / "lb-hosts"
        self.hosts.write_text("")
        self.port = free_port()
        self.log = open(workdir / "dnsmasq.log", "wb")
        self.proc = subprocess.Popen(
            ["/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null", f"--port={self.port}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
             f"--addn-hosts={self.hosts}", "--user=root", f"--pid-file={workdir / 'dnsmasq.pid'}",
             "--local-ttl=0", "--log-queries", "--log-facility=-"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        assert wait_tcp(self.port, 10, self.proc), f"dnsmasq did not start: {(workdir / 'dnsmasq.log').read_text()}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_hosts(self, name: str, addresses):
        tmp = self.hosts.with_suffix(".new")
        tmp.write_text("".join(f"{a} {name}\n" for a in addresses))
        os.replace(tmp, self.hosts)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
