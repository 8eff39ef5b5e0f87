"""Writes the fuzz seed corpora (fuzz/seeds/<target>/): small valid OTLP
requests of every signal as protobuf and JSON, plus the http_handler framing
(4 header bytes, see fuzz_targets/http_handler.rs). Run with the test venv:
.venv/bin/python fuzz/make_seeds.py. The other seeds in fuzz/seeds are the inputs
of bugs found with the otlp_protobuf target (varint-overflow.pb, metric-oneof-replaced.pb)."""

import json
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

OUT = Path(__file__).resolve().parent / "seeds"
TID, SID = bytes(range(1, 17)), bytes(range(1, 9))


def attrs():
    kv = common_pb2.KeyValueList(values=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(int_value=1))])
    arr = common_pb2.ArrayValue(values=[common_pb2.AnyValue(string_value="a"), common_pb2.AnyValue(double_value=1.5)])
    return [
        common_pb2.KeyValue(key="s", value=common_pb2.AnyValue(string_value="v")),
        common_pb2.KeyValue(key="b", value=common_pb2.AnyValue(bool_value=True)),
        common_pb2.KeyValue(key="y", value=common_pb2.AnyValue(bytes_value=b"\x00\xff")),
        common_pb2.KeyValue(key="kv", value=common_pb2.AnyValue(kvlist_value=kv)),
        common_pb2.KeyValue(key="arr", value=common_pb2.AnyValue(array_value=arr)),
    ]


RESOURCE = resource_pb2.Resource(attributes=[common_pb2.KeyValue(key="service.name",
                                                                 value=common_pb2.AnyValue(string_value="seed"))])
SCOPE = common_pb2.InstrumentationScope(name="seed", version="1")

traces = trace_service_pb2.ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
    resource=RESOURCE, scope_spans=[trace_pb2.ScopeSpans(scope=SCOPE, spans=[
        trace_pb2.Span(trace_id=TID, span_id=SID, parent_span_id=SID, name="a", kind=2, start_time_unix_nano=1,
                       end_time_unix_nano=2, attributes=attrs(), flags=1,
                       events=[trace_pb2.Span.Event(time_unix_nano=1, name="e", attributes=attrs()[:1])],
                       links=[trace_pb2.Span.Link(trace_id=TID, span_id=SID, trace_state="x=y")],
                       status=trace_pb2.Status(code=2, message="m")),
        trace_pb2.Span(trace_id=TID, span_id=SID, name="b"),
    ])])])

dp = metrics_pb2.NumberDataPoint(attributes=attrs()[:2], time_unix_nano=5, as_int=-3, exemplars=[
    metrics_pb2.Exemplar(time_unix_nano=5, as_double=1.0, span_id=SID, trace_id=TID)])
metrics = metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
    resource=RESOURCE, scope_metrics=[metrics_pb2.ScopeMetrics(scope=SCOPE, metrics=[
        metrics_pb2.Metric(name="g", unit="1", gauge=metrics_pb2.Gauge(data_points=[dp, dp])),
        metrics_pb2.Metric(name="s", sum=metrics_pb2.Sum(data_points=[dp], aggregation_temporality=2,
                                                         is_monotonic=True)),
        metrics_pb2.Metric(name="h", histogram=metrics_pb2.Histogram(data_points=[metrics_pb2.HistogramDataPoint(
            count=3, sum=2.0, bucket_counts=[1, 2], explicit_bounds=[1.0], min=0.5, max=1.5)],
            aggregation_temporality=1)),
        metrics_pb2.Metric(name="e", exponential_histogram=metrics_pb2.ExponentialHistogram(data_points=[
            metrics_pb2.ExponentialHistogramDataPoint(count=2, scale=1, zero_count=1,
                                                      positive=metrics_pb2.ExponentialHistogramDataPoint.Buckets(
                                                          offset=-1, bucket_counts=[1, 1]))])),
        metrics_pb2.Metric(name="q", summary=metrics_pb2.Summary(data_points=[metrics_pb2.SummaryDataPoint(
            count=1, sum=1.0, quantile_values=[metrics_pb2.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=1)])])),
    ])])])

logs = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
    resource=RESOURCE, scope_logs=[logs_pb2.ScopeLogs(scope=SCOPE, log_records=[
        logs_pb2.LogRecord(time_unix_nano=1, severity_number=9, severity_text="INFO",
                           body=common_pb2.AnyValue(string_value="line"), attributes=attrs(), trace_id=TID,
                           span_id=SID, event_name="ev"),
        logs_pb2.LogRecord(body=common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=attrs()))),
    ])])])


def otlp_json(msg) -> bytes:
    """OTLP/JSON: protobuf JSON mapping, but ids as hex instead of base64."""
    doc = json_format.MessageToDict(msg, preserving_proto_field_name=False)

    def fix(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                    import base64
                    node[k] = base64.b64decode(v).hex()
                else:
                    fix(v)
        elif isinstance(node, list):
            for v in node:
                fix(v)

    fix(doc)
    return json.dumps(doc).encode()


def write(target: str, name: str, data: bytes):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


for i, (name, msg) in enumerate((("traces", traces), ("metrics", metrics), ("logs", logs))):
    pb, js = msg.SerializeToString(), otlp_json(msg)
    write("otlp_protobuf", f"{name}.pb", pb)
    write("otlp_json", f"{name}.json", js)
    # http_handler: signal, content type (0 protobuf, 1 json), encoding, mode (bit 0: compress; limit 64 KiB)
    for enc in range(7):
        write("http_handler", f"{name}-pb-{enc}", bytes([i, 0, enc, 1 | (10 << 1)]) + pb)
    write("http_handler", f"{name}-json", bytes([i, 1, 0, 10 << 1]) + js)
write("otlp_json", "empty.json", b"{}")
write("otlp_protobuf", "empty.pb", b"")
