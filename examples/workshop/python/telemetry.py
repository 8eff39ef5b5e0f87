"""OpenTelemetry set-up shared by the orders API and the pipeline job.

Traces, metrics and logs go over OTLP/gRPC to OTEL_EXPORTER_OTLP_ENDPOINT
(host.docker.internal:4317 in the compose file). The resource comes from
OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.version,
deployment.environment), which the SDK reads itself. Log records carry the
active span's trace and span ids, so logs and traces correlate.
"""

import logging

import pymysql

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.dbapi import trace_integration
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def setup(scope: str):
    """Installs the global providers; returns (tracer, meter, logger)."""
    resource = Resource.create()
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=1000))
    trace.set_tracer_provider(tp)
    # the interval comes from OTEL_METRIC_EXPORT_INTERVAL (the compose file sets 10 s)
    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(), schedule_delay_millis=1000))
    set_logger_provider(lp)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger().addHandler(LoggingHandler(level=logging.INFO, logger_provider=lp))
    return trace.get_tracer(scope), metrics.get_meter(scope), logging.getLogger(scope)


def instrument_pymysql():
    """One client span per SQL statement (db.system mysql), through the
    generic DB-API integration, as opentelemetry-instrumentation-pymysql does."""
    trace_integration(pymysql, "connect", "mysql",
                      connection_attributes={"database": "db", "port": "port", "host": "host", "user": "user"})
