"""The `mysql` exporter against a real MariaDB (Debian's mariadbd on a temp
data dir, see failures_peers.py): the OpenTelemetry Python SDK sends spans
with errors and exceptions and log records through the collector, and the
rows are checked field by field; the schema is the exporter's own.
Also: a replayed batch adds no rows, a MariaDB restart mid-stream (or a
database down when the collector starts) loses nothing the collector
acknowledged, neither does a collector restart with a file_storage queue
while the database is down, `traces.mode: all`, and retention.
Bad input (SQL metacharacters, long and non-UTF-8 values) is in
test_mysql_bad_input.py.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import warnings
from datetime import datetime, timedelta

import pytest
import requests
import yaml

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from conftest import Ports, config_yaml, pipeline
from failures_peers import DB_PASSWORD, mariadb, wait_until  # noqa: F401 - fixture
from otlp_util import (grpc_export, kvs, log_request, make_span, parse_prometheus, sample_value, sdk_attrs,
                       to_yaml, trace_request)

pytestmark = [pytest.mark.mariadb]

EPOCH = datetime(1970, 1, 1)
ERROR_STATUS = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="boom")


def new_db() -> str:
    return "it_" + uuid.uuid4().hex[:12]


def mysql_collector(collector, ports, db, database, *, endpoint=None, env=None, **extra):
    exporter = {
        "endpoint": endpoint or db.dsn(),
        "database": database,
        "retry_on_failure": {"initial_interval": "100ms", "max_interval": "1s", "max_elapsed_time": "0s"},
        **extra,
    }
    cfg = config_yaml(ports, exporters={"mysql": exporter},
                      pipelines={"traces": pipeline(["mysql"]), "logs": pipeline(["mysql"])})
    return collector(cfg, env=env)


def as_datetime(unix_nano: int) -> datetime:
    return EPOCH + timedelta(microseconds=unix_nano // 1000)


def rows(db, database, table, order="id"):
    return db.query(f"SELECT * FROM {table} ORDER BY {order}", database=database, dict_rows=True)


def test_sdk_failures_stored_field_by_field(collector, ports, mariadb):
    database = new_db()
    # the password comes from the environment, as a config would do it
    endpoint = f"mysql://otel:${{env:IT_MARIADB_PASSWORD}}@127.0.0.1:{mariadb.port}"
    mysql_collector(collector, ports, mariadb, database, endpoint=endpoint, env={"IT_MARIADB_PASSWORD": DB_PASSWORD})
    wait_until(lambda: mariadb.count(database, "failed_spans") == 0, what="schema created at start")

    resource = Resource.create({"service.name": "checkout", "deployment.environment": "it"})
    spans_seen = InMemorySpanExporter()
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(spans_seen))
    tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"127.0.0.1:{ports.grpc}", insecure=True)))
    logs_seen = InMemoryLogRecordExporter()
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(SimpleLogRecordProcessor(logs_seen))
    lp.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"127.0.0.1:{ports.grpc}", insecure=True)))
    log = logging.getLogger("it.payments." + database)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # LoggingHandler is deprecated in the SDK, still works
        log.addHandler(LoggingHandler(level=logging.NOTSET, logger_provider=lp))

    tracer = tp.get_tracer("it.shop")
    with tracer.start_as_current_span("POST /pay", kind=SpanKind.SERVER,
                                      attributes={"http.route": "/pay", "order.id": 42}) as root:
        with tracer.start_as_current_span("charge card", kind=SpanKind.CLIENT, record_exception=False,
                                          set_status_on_exception=False) as child:
            try:
                raise ValueError("card number 4242 rejected")
            except ValueError as e:
                child.record_exception(e)
        with tracer.start_as_current_span("load cart"):
            log.info("cart loaded")
        log.warning("payment slow")
        log.error("payment failed for order %s", 42)
        root.set_status(Status(StatusCode.ERROR, "payment failed"))
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup broke")
    assert tp.force_flush(10_000) and lp.force_flush(10_000)

    by_name = {s.name: s for s in spans_seen.get_finished_spans()}
    root_sdk, child_sdk = by_name["POST /pay"], by_name["charge card"]
    mariadb.wait_count(database, "failed_spans", 2)
    got = {r["span_name"]: r for r in rows(mariadb, database, "failed_spans")}
    assert set(got) == {"POST /pay", "charge card"}, "the OK span is not stored"
    want_resource = sdk_attrs(resource.attributes)
    for sdk_span, row in ((root_sdk, got["POST /pay"]), (child_sdk, got["charge card"])):
        assert row["trace_id"] == format(sdk_span.context.trace_id, "032x")
        assert row["span_id"] == format(sdk_span.context.span_id, "016x")
        assert row["service_name"] == "checkout"
        assert row["start_time"] == as_datetime(sdk_span.start_time)
        assert row["end_time"] == as_datetime(sdk_span.end_time)
        assert abs(row["duration_ms"] - (sdk_span.end_time - sdk_span.start_time) / 1e6) < 1e-6
        assert json.loads(row["resource_attributes"]) == want_resource
        assert json.loads(row["span_attributes"]) == sdk_attrs(sdk_span.attributes)
        assert row["inserted_at"] is not None
    r = got["POST /pay"]
    assert (r["parent_span_id"], r["span_kind"], r["status_code"], r["status_message"]) == \
        (None, "SERVER", "ERROR", "payment failed")
    assert (r["exception_type"], r["exception_message"], r["exception_stacktrace"]) == (None, None, None)
    assert json.loads(r["span_attributes"]) == {"http.route": "/pay", "order.id": 42}
    c = got["charge card"]
    assert c["parent_span_id"] == format(root_sdk.context.span_id, "016x")
    assert (c["span_kind"], c["status_code"], c["status_message"]) == ("CLIENT", "UNSET", None)
    assert (c["exception_type"], c["exception_message"]) == ("ValueError", "card number 4242 rejected")
    assert c["exception_stacktrace"].startswith("Traceback") and "ValueError: card number 4242" in c["exception_stacktrace"]

    mariadb.wait_count(database, "error_logs", 2)
    sdk_logs = {d.log_record.body: d.log_record for d in logs_seen.get_finished_logs()}
    got_logs = {r["body"]: r for r in rows(mariadb, database, "error_logs")}
    assert set(got_logs) == {"payment failed for order 42", "lookup broke"}, "INFO and WARN are below ERROR"
    for body, row in got_logs.items():
        rec = sdk_logs[body]
        assert (row["severity_number"], row["severity_text"]) == (17, "ERROR")
        assert row["time"] == as_datetime(rec.timestamp)
        assert row["observed_time"] == as_datetime(rec.observed_timestamp)
        assert row["service_name"] == "checkout"
        assert row["scope_name"] == log.name
        assert json.loads(row["attributes"]) == sdk_attrs(rec.attributes)
        assert json.loads(row["resource_attributes"]) == want_resource
        assert len(row["record_hash"]) == 64
    inside = got_logs["payment failed for order 42"]
    assert inside["trace_id"] == format(root_sdk.context.trace_id, "032x")
    assert inside["span_id"] == format(root_sdk.context.span_id, "016x")
    outside = got_logs["lookup broke"]
    assert (outside["trace_id"], outside["span_id"]) == (None, None)
    assert json.loads(outside["attributes"])["exception.type"] == "KeyError"

    # the schema: version table and the indexes the dashboard and stackctl use
    assert mariadb.query("SELECT version FROM otelstack_schema_version", database=database) == ((1,),)
    idx = {(r[2], r[4]) for r in mariadb.query("SHOW INDEX FROM failed_spans", database=database)}
    assert {("uq_failed_spans_trace_span", "trace_id"), ("uq_failed_spans_trace_span", "span_id"),
            ("idx_failed_spans_start_time", "start_time"), ("idx_failed_spans_service_time", "service_name"),
            ("idx_failed_spans_service_time", "start_time")} <= idx
    tp.shutdown()
    lp.shutdown()


def failed_request(n: int, service: str = "replay-svc"):
    spans = [make_span(f"op-{i}", status=ERROR_STATUS) for i in range(n)]
    return trace_request(spans, resource={"service.name": service})


def error_log_request(n: int):
    recs = [logs_pb2.LogRecord(time_unix_nano=1_700_000_000_000_000_000 + i, severity_number=17,
                               severity_text="ERROR", body=kvs({"b": f"failure {i}"})[0].value)
            for i in range(n)]
    return log_request(recs, resource={"service.name": "replay-svc"})


def test_replay_adds_no_rows(collector, ports, mariadb):
    database = new_db()
    # one queue consumer: batches are written in the order they arrive, so
    # the marker below is stored only after the replay was handled
    mysql_collector(collector, ports, mariadb, database, sending_queue={"num_consumers": 1})
    spans, logs = failed_request(7), error_log_request(4)
    grpc_export(ports.grpc, spans)
    grpc_export(ports.grpc, logs, signal="logs")
    mariadb.wait_count(database, "failed_spans", 7)
    mariadb.wait_count(database, "error_logs", 4)
    before = (rows(mariadb, database, "failed_spans"), rows(mariadb, database, "error_logs"))

    grpc_export(ports.grpc, spans)
    grpc_export(ports.grpc, logs, signal="logs")
    grpc_export(ports.grpc, failed_request(1, "marker"))
    grpc_export(ports.grpc, log_request([logs_pb2.LogRecord(severity_number=21, body=kvs({"b": "marker"})[0].value)]),
                signal="logs")
    mariadb.wait_count(database, "failed_spans", 8)
    mariadb.wait_count(database, "error_logs", 5)
    after_spans = [r for r in rows(mariadb, database, "failed_spans") if r["service_name"] != "marker"]
    after_logs = [r for r in rows(mariadb, database, "error_logs") if r["body"] != "marker"]
    assert (after_spans, after_logs) == before, "the replay changed nothing, not even inserted_at"


def test_restart_mid_stream_loses_nothing_acknowledged(collector, ports, mariadb):
    database = new_db()
    mysql_collector(collector, ports, mariadb, database)
    sent_ids = set()

    def send(k):
        req = failed_request(5, "restart-svc")
        grpc_export(ports.grpc, req)  # raises unless the collector acknowledged it
        sent_ids.update(sp.span_id.hex() for sp in req.resource_spans[0].scope_spans[0].spans)

    for k in range(10):
        send(k)
    mariadb.wait_count(database, "failed_spans", 50)
    mariadb.stop()
    for k in range(10, 20):
        send(k)  # acknowledged while the database is down: queued
    mariadb.start()
    for k in range(20, 30):
        send(k)
    mariadb.wait_count(database, "failed_spans", 150, timeout=60)
    stored = {r[0] for r in mariadb.query("SELECT span_id FROM failed_spans", database=database)}
    assert stored == sent_ids


def test_mode_all_min_severity_and_retention(collector, ports, mariadb):
    database = new_db()
    first = mysql_collector(collector, ports, mariadb, database, traces={"mode": "all"},
                            logs={"min_severity": "WARN"})
    hour = 3600 * 10**9
    now = time.time_ns()
    old = make_span("old", start_time_unix_nano=now - 2 * hour, end_time_unix_nano=now - 2 * hour + 5)
    recent = make_span("recent", start_time_unix_nano=now - 60 * 10**9, end_time_unix_nano=now)
    grpc_export(ports.grpc, trace_request([old, recent]))
    warn = logs_pb2.LogRecord(time_unix_nano=now, severity_number=13, severity_text="WARN",
                              body=kvs({"b": "disk 91% full"})[0].value)
    info = logs_pb2.LogRecord(time_unix_nano=now, severity_number=9, body=kvs({"b": "fine"})[0].value)
    grpc_export(ports.grpc, log_request([warn, info]), signal="logs")
    mariadb.wait_count(database, "failed_spans", 2)
    mariadb.wait_count(database, "error_logs", 1)
    assert sorted(r["span_name"] for r in rows(mariadb, database, "failed_spans")) == ["old", "recent"], \
        "mode all stores spans without errors"
    assert [r["body"] for r in rows(mariadb, database, "error_logs")] == ["disk 91% full"], "min_severity WARN"
    assert first.terminate() == 0

    # a collector with retention 1h deletes the 2h-old span soon after start
    mysql_collector(collector, Ports.new(), mariadb, database, traces={"mode": "all"}, retention="1h")
    wait_until(lambda: [r["span_name"] for r in rows(mariadb, database, "failed_spans")] == ["recent"],
               timeout=30, what="retention to delete the old row and keep the recent one")


def test_database_down_at_start_schema_and_rows_arrive_later(collector, ports, mariadb):
    database = new_db()
    mariadb.stop()
    try:
        mysql_collector(collector, ports, mariadb, database)  # healthy without its database
        sent = [failed_request(3, "late-db") for _ in range(4)]
        for req in sent:
            grpc_export(ports.grpc, req)
    finally:
        mariadb.start()
    mariadb.wait_count(database, "failed_spans", 12, timeout=60)
    want = {sp.span_id.hex() for req in sent for sp in req.resource_spans[0].scope_spans[0].spans}
    assert {r[0] for r in mariadb.query("SELECT span_id FROM failed_spans", database=database)} == want
    assert mariadb.query("SELECT version FROM otelstack_schema_version", database=database) == ((1,),)


def test_file_queue_keeps_what_it_acknowledged_across_a_restart_while_the_database_is_down(
        collector, ports, mariadb, tmp_path):
    """`sending_queue.storage` on the mysql exporter: what the collector
    acknowledged while MariaDB was down survives a collector restart and is
    stored once the database is back."""
    database = new_db()
    exporter = {
        "endpoint": mariadb.dsn(),
        "database": database,
        "retry_on_failure": {"initial_interval": "100ms", "max_interval": "1s", "max_elapsed_time": "0s"},
        "sending_queue": {"storage": "file_storage/queue"},
    }
    cfg = yaml.safe_load(config_yaml(ports, exporters={"mysql": exporter},
                                     pipelines={"traces": pipeline(["mysql"])}))
    cfg["extensions"]["file_storage/queue"] = {"directory": str(tmp_path / "queue"), "create_directory": True}
    cfg["service"]["extensions"].append("file_storage/queue")
    text = to_yaml(cfg) + "\n"

    first = collector(text, name="before-restart")
    wait_until(lambda: mariadb.count(database, "failed_spans") == 0, what="schema created at start")
    mariadb.stop()
    sent = [failed_request(4, "queued-svc") for _ in range(5)]
    try:
        for req in sent:
            grpc_export(ports.grpc, req)  # raises unless the collector acknowledged it
        assert first.terminate() == 0
        second = collector(text, name="after-restart")
        backlog = sample_value(parse_prometheus(
            requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text),
            "otelcol_exporter_queue_size", exporter="mysql", data_type="traces")
        assert backlog == len(sent), "the restarted collector found every acknowledged batch on disk"
    finally:
        mariadb.start()
    mariadb.wait_count(database, "failed_spans", 20, timeout=60)
    want = {sp.span_id.hex() for req in sent for sp in req.resource_spans[0].scope_spans[0].spans}
    assert {r[0] for r in mariadb.query("SELECT span_id FROM failed_spans", database=database)} == want
    assert second.terminate() == 0
