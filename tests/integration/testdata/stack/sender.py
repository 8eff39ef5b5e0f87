"""An app in another compose project: sends spans (one failed) and a counter
to the stack's collector through host.docker.internal, with the OTel Python
SDK, then exits 0 only if every export succeeded."""

import os
import socket
import sys

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode

endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
print("host.docker.internal ->", socket.gethostbyname("host.docker.internal"), "endpoint", endpoint, flush=True)
resource = Resource.create({"service.name": "stack-container-app"})


class Checked(OTLPSpanExporter):
    failures = 0

    def export(self, spans):
        r = super().export(spans)
        if r != SpanExportResult.SUCCESS:
            Checked.failures += 1
        return r


tp = TracerProvider(resource=resource)
tp.add_span_processor(SimpleSpanProcessor(Checked(endpoint=endpoint, insecure=True, timeout=10)))
tracer = tp.get_tracer("stack.sender")
for i in range(3):
    with tracer.start_as_current_span("container-etl") as span:
        span.set_attribute("batch", i)
with tracer.start_as_current_span("container-etl-failed") as span:
    span.set_status(Status(StatusCode.ERROR, "load failed"))
tp.shutdown()

reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=10),
                                       export_interval_millis=3_600_000)
mp = MeterProvider(resource=resource, metric_readers=[reader])
mp.get_meter("stack.sender").create_counter("stack.orders").add(7, {"origin": "container"})
ok = mp.force_flush(timeout_millis=15_000)
mp.shutdown()
print("span export failures:", Checked.failures, "metrics flushed:", ok, flush=True)
sys.exit(0 if Checked.failures == 0 and ok else 1)
