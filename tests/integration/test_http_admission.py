"""The OTLP/HTTP receiver's admission budget (the memory_limiter's spike
allowance): a request is charged for its body while it is read and for its
decoded batch afterwards, never for both at once, since an uncompressed
protobuf batch shares the body's bytes. A request that fits the budget is
accepted and every span arrives; one that does not is refused with 503 and
Retry-After, which OTLP clients retry.
"""

from __future__ import annotations

import requests
from conftest import config_yaml, otlp_exporter, pipeline
from otlp_util import make_span, trace_request

MIB = 1024 * 1024
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def request_of(tag: str, spans: int):
    attrs = {f"attr.{k}": "x" * 200 for k in range(10)}
    return trace_request([make_span(f"{tag}-{i}", attributes=attrs) for i in range(spans)])


def limiter_config(ports, sink_port: int) -> str:
    # spike_limit_mib 1: the receivers may hold 1 MiB of requests at once
    limiter = {"memory_limiter": {"check_interval": "1s", "limit_mib": 400, "spike_limit_mib": 1}}
    return config_yaml(ports, processors={**limiter, "batch": {"timeout": "50ms"}},
                       exporters={"otlp": otlp_exporter(sink_port)},
                       pipelines={"traces": pipeline(["otlp"], ["memory_limiter", "batch"])})


def test_a_request_is_charged_once_not_for_body_and_batch(collector, ports, grpc_sink):
    c = collector(limiter_config(ports, grpc_sink.port))
    body = request_of("fits", 300).SerializeToString()
    # more than half the budget: charged for body and batch together it would not fit
    assert 0.55 * MIB < len(body) < 0.95 * MIB, len(body)
    r = requests.post(f"{ports.http_url}/v1/traces", data=body, headers=PROTOBUF, timeout=10)
    assert r.status_code == 200, (r.status_code, r.content, c.stderr())
    grpc_sink.wait_for("traces", 300)
    names = sorted(sp.name for _, _, sp in grpc_sink.spans())
    assert names == sorted(f"fits-{i}" for i in range(300))


def test_a_request_larger_than_the_budget_is_refused_with_retry_after(collector, ports, grpc_sink):
    c = collector(limiter_config(ports, grpc_sink.port))
    body = request_of("big", 600).SerializeToString()
    assert len(body) > 1.1 * MIB, len(body)
    r = requests.post(f"{ports.http_url}/v1/traces", data=body, headers=PROTOBUF, timeout=10)
    assert r.status_code == 503, (r.status_code, r.content, c.stderr())
    assert int(r.headers["Retry-After"]) >= 1
    # the budget was released: a request that fits still goes through
    small = request_of("after", 10).SerializeToString()
    r = requests.post(f"{ports.http_url}/v1/traces", data=small, headers=PROTOBUF, timeout=10)
    assert r.status_code == 200, (r.status_code, r.content)
    grpc_sink.wait_for("traces", 10)
    assert sorted(sp.name for _, _, sp in grpc_sink.spans()) == sorted(f"after-{i}" for i in range(10))
