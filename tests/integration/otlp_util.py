"""Helpers shared by the integration tests: OTLP protobuf builders, value
conversion, a tiny block-style YAML writer for collector configs, and small
clients (raw gRPC export, Prometheus text parsing).

Nothing here starts processes; fixtures live in conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import time

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

# ---------------------------------------------------------------------------
# Attribute values
# ---------------------------------------------------------------------------


def any_value(v) -> common_pb2.AnyValue:
    """Python value -> AnyValue (bool before int: bool is an int subclass)."""
    if isinstance(v, common_pb2.AnyValue):
        return v
    if isinstance(v, bool):
        return common_pb2.AnyValue(bool_value=v)
    if isinstance(v, int):
        return common_pb2.AnyValue(int_value=v)
    if isinstance(v, float):
        return common_pb2.AnyValue(double_value=v)
    if isinstance(v, str):
        return common_pb2.AnyValue(string_value=v)
    if isinstance(v, bytes):
        return common_pb2.AnyValue(bytes_value=v)
    if isinstance(v, (list, tuple)):
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[any_value(x) for x in v]))
    if isinstance(v, dict):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=kvs(v)))
    raise TypeError(f"unsupported attribute value {v!r}")


def kvs(d: dict) -> list:
    return [common_pb2.KeyValue(key=k, value=any_value(v)) for k, v in d.items()]


def py_value(av: common_pb2.AnyValue):
    """AnyValue -> Python value (arrays as lists, kvlists as dicts, unset as None)."""
    kind = av.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [py_value(x) for x in av.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: py_value(kv.value) for kv in av.kvlist_value.values}
    return getattr(av, kind)


def attrs(kv_list) -> dict:
    """Repeated KeyValue -> dict. Fails on duplicate keys (invalid OTLP)."""
    out = {}
    for kv in kv_list:
        assert kv.key not in out, f"duplicate attribute key {kv.key!r}"
        out[kv.key] = py_value(kv.value)
    return out


def typed_attrs(kv_list) -> dict:
    """Like attrs() but keeps the AnyValue kind, to tell int 5 from "5" from 5.0."""
    return {kv.key: (kv.value.WhichOneof("value"), py_value(kv.value)) for kv in kv_list}


def sdk_attrs(mapping) -> dict:
    """SDK attribute mapping (tuples for sequences) -> plain dict with lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dict(mapping or {}).items()}


# ---------------------------------------------------------------------------
# Building OTLP requests by hand
# ---------------------------------------------------------------------------


def rand_trace_id() -> bytes:
    return os.urandom(16)


def rand_span_id() -> bytes:
    return os.urandom(8)


def make_span(name: str, *, attributes: dict | None = None, trace_id: bytes | None = None,
              span_id: bytes | None = None, kind: int = trace_pb2.Span.SPAN_KIND_INTERNAL,
              **extra) -> trace_pb2.Span:
    now = time.time_ns()
    return trace_pb2.Span(
        trace_id=trace_id or rand_trace_id(),
        span_id=span_id or rand_span_id(),
        name=name,
        kind=kind,
        start_time_unix_nano=extra.pop("start_time_unix_nano", now - 1_000_000),
        end_time_unix_nano=extra.pop("end_time_unix_nano", now),
        attributes=kvs(attributes or {}),
        **extra,
    )


def trace_request(spans, *, resource: dict | None = None, scope: str = "it.scope",
                  scope_version: str = "1.0") -> trace_service_pb2.ExportTraceServiceRequest:
    return trace_service_pb2.ExportTraceServiceRequest(resource_spans=[
        trace_pb2.ResourceSpans(
            resource=resource_pb2.Resource(attributes=kvs(resource or {"service.name": "it-service"})),
            scope_spans=[trace_pb2.ScopeSpans(
                scope=common_pb2.InstrumentationScope(name=scope, version=scope_version),
                spans=list(spans),
            )],
        )
    ])


def log_request(records, *, resource: dict | None = None) -> logs_service_pb2.ExportLogsServiceRequest:
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[
        logs_pb2.ResourceLogs(
            resource=resource_pb2.Resource(attributes=kvs(resource or {"service.name": "it-service"})),
            scope_logs=[logs_pb2.ScopeLogs(scope=common_pb2.InstrumentationScope(name="it.scope"),
                                           log_records=list(records))],
        )
    ])


def rich_span(name: str, trace_id: bytes | None = None) -> trace_pb2.Span:
    """A span using every field, to check that nothing is lost on the way."""
    now = time.time_ns()
    tid = trace_id or rand_trace_id()
    return make_span(
        name,
        trace_id=tid,
        parent_span_id=rand_span_id(),
        trace_state="vendor=a,other=b",
        flags=0x101,
        kind=trace_pb2.Span.SPAN_KIND_PRODUCER,
        attributes={
            "str": "value", "int": -(2**40), "dbl": 3.25, "bool": True, "bytes": b"\x00\x01\xff",
            "arr": ["a", "b"], "arr.int": [1, 2, 3], "kv": {"inner": "x", "n": 2}, "empty": "",
        },
        dropped_attributes_count=3,
        events=[trace_pb2.Span.Event(time_unix_nano=now - 500, name="ev1", attributes=kvs({"e": 1}),
                                     dropped_attributes_count=1)],
        dropped_events_count=2,
        links=[trace_pb2.Span.Link(trace_id=rand_trace_id(), span_id=rand_span_id(), trace_state="l=1",
                                   attributes=kvs({"link": "yes"}), flags=0x100)],
        dropped_links_count=4,
        status=trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="it failed"),
    )


# ---------------------------------------------------------------------------
# Flattening what a sink received
# ---------------------------------------------------------------------------


def flat_spans(requests):
    """[(resource_attrs, scope, span)] over ExportTraceServiceRequests, in order."""
    return [(attrs(rs.resource.attributes), ss.scope, sp)
            for req in requests for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]


def flat_metrics(requests):
    """[(resource_attrs, scope, metric)] over ExportMetricsServiceRequests."""
    return [(attrs(rm.resource.attributes), sm.scope, m)
            for req in requests for rm in req.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]


def flat_logs(requests):
    """[(resource_attrs, scope, log_record)] over ExportLogsServiceRequests."""
    return [(attrs(rl.resource.attributes), sl.scope, lr)
            for req in requests for rl in req.resource_logs for sl in rl.scope_logs for lr in sl.log_records]


def span_count(req) -> int:
    return sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)


# ---------------------------------------------------------------------------
# Raw gRPC client
# ---------------------------------------------------------------------------

_STUBS = {
    "traces": (trace_service_pb2_grpc.TraceServiceStub, trace_service_pb2.ExportTraceServiceResponse),
    "metrics": (metrics_service_pb2_grpc.MetricsServiceStub, metrics_service_pb2.ExportMetricsServiceResponse),
    "logs": (logs_service_pb2_grpc.LogsServiceStub, logs_service_pb2.ExportLogsServiceResponse),
}


def varint(n: int) -> bytes:
    """Protobuf base-128 varint, for hand-built (and deliberately bad) messages."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def grpc_export(port: int, request, *, signal: str = "traces", timeout: float = 10.0, compression=None,
                metadata=None):
    """Send one Export call to 127.0.0.1:port; returns the response or raises grpc.RpcError."""
    stub_cls, _ = _STUBS[signal]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        return stub_cls(ch).Export(request, timeout=timeout, compression=compression, metadata=metadata)


# ---------------------------------------------------------------------------
# Config YAML
# ---------------------------------------------------------------------------

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if v is None:
        return "null"
    return json.dumps(str(v))  # a JSON string is a valid YAML double-quoted scalar


def _key(k) -> str:
    return k if _PLAIN_KEY.match(str(k)) else json.dumps(str(k))


def to_yaml(obj, indent: int = 0) -> str:
    """Block-style YAML for dicts/lists/scalars, the way people write otelcol configs."""
    pad = "  " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{_key(k)}:")
                lines.append(to_yaml(v, indent + 1))
            elif isinstance(v, dict):
                lines.append(f"{pad}{_key(k)}: {{}}")
            elif isinstance(v, list):
                lines.append(f"{pad}{_key(k)}: []")
            else:
                lines.append(f"{pad}{_key(k)}: {_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                body = to_yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {_scalar(item) if not isinstance(item, (dict, list)) else '{}'}")
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Prometheus text exposition
# ---------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str):
    """[(name, {labels}, float value)] for every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line.strip())
        assert m, f"unparsable Prometheus sample line: {line!r}"
        labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in _LABEL.findall(m.group(2) or "")}
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def sample_value(samples, name: str, **labels):
    """Sum of samples named `name` whose labels include `labels`; None if there is none."""
    hits = [v for n, ls, v in samples if n == name and all(ls.get(k) == w for k, w in labels.items())]
    return sum(hits) if hits else None
