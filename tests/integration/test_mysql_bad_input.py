"""Bad input for the `mysql` exporter, against a real MariaDB: SQL
metacharacters are stored verbatim, strings longer than their column are
cut on a character boundary, bytes values that are not UTF-8 are stored as
base64 in the JSON columns, and none of it breaks the batch the rows came
in; a row the server refuses anyway (a hand-narrowed column) costs only
itself and is counted as failed. A span name that is not UTF-8 is refused
by the receiver (OTLP strings must be UTF-8) while the collector keeps
storing what follows.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import Ports, config_yaml, pipeline
from failures_peers import mariadb, wait_until  # noqa: F401 - fixture
from otlp_util import any_value, grpc_export, log_request, make_span, parse_prometheus, sample_value, trace_request, varint
from test_mysql_exporter import new_db, rows

pytestmark = [pytest.mark.mariadb]

ERROR = trace_pb2.Status.STATUS_CODE_ERROR
SQL_NASTY = "x'); DROP TABLE failed_spans; -- \" ` \\ %_ \x00 end"
NOT_UTF8 = b"\xff\xfe\xc3\x28 raw"


def start(collector, ports, db, database):
    exporter = {"endpoint": db.dsn(), "database": database,
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "1s"}}
    # the `mariadb` alias of the mysql exporter
    cfg = config_yaml(ports, exporters={"mariadb": exporter},
                      pipelines={"traces": pipeline(["mariadb"]), "logs": pipeline(["mariadb"])})
    return collector(cfg)


def test_metacharacters_long_and_binary_values_in_one_batch(collector, ports, mariadb):
    database = new_db()
    start(collector, ports, mariadb, database)
    long_name = "é" * 1500 + "tail"            # 1504 characters: span_name is VARCHAR(1024)
    long_message = "a" + "🙂" * 20_000          # 80001 bytes: status_message is TEXT (65535 bytes)
    long_attr = "z" * 100_000                   # attribute strings are capped at 64 KiB
    spans = [
        make_span(SQL_NASTY, attributes={"q": SQL_NASTY, "raw": NOT_UTF8},
                  status=trace_pb2.Status(code=ERROR, message=SQL_NASTY)),
        make_span(long_name, attributes={"big": long_attr},
                  status=trace_pb2.Status(code=ERROR, message=long_message)),
        make_span("plain", status=trace_pb2.Status(code=ERROR, message="fine")),
    ]
    grpc_export(ports.grpc, trace_request(spans, resource={"service.name": "svc'; --"}))
    logs = [
        logs_pb2.LogRecord(severity_number=17, body=any_value(NOT_UTF8), attributes=[]),
        logs_pb2.LogRecord(severity_number=17, body=any_value(SQL_NASTY)),
    ]
    grpc_export(ports.grpc, log_request(logs), signal="logs")

    mariadb.wait_count(database, "failed_spans", 3)
    by_id = {r["span_id"]: r for r in rows(mariadb, database, "failed_spans")}
    nasty, long_row, plain = (by_id[s.span_id.hex()] for s in spans)
    assert nasty["span_name"] == SQL_NASTY and nasty["status_message"] == SQL_NASTY
    assert nasty["service_name"] == "svc'; --"
    attrs = json.loads(nasty["span_attributes"])
    assert attrs["q"] == SQL_NASTY
    assert base64.b64decode(attrs["raw"]) == NOT_UTF8, "bytes values are base64 in the JSON"
    assert long_row["span_name"] == long_name[:1024]
    assert long_row["status_message"].encode() == long_message.encode()[:65533], "cut before the split emoji"
    assert json.loads(long_row["span_attributes"])["big"] == long_attr[:65536]
    assert plain["status_message"] == "fine"
    assert mariadb.query("SHOW TABLES LIKE 'failed_spans'", database=database), "still there"

    mariadb.wait_count(database, "error_logs", 2)
    bodies = sorted(r["body"] for r in rows(mariadb, database, "error_logs"))
    assert bodies == sorted([base64.b64encode(NOT_UTF8).decode(), SQL_NASTY])


def test_non_utf8_span_name_refused_and_collector_keeps_storing(collector, ports, mariadb):
    database = new_db()
    start(collector, ports, mariadb, database)
    good = make_span("ab", status=trace_pb2.Status(code=ERROR)).SerializeToString()
    raw = trace_request([]).SerializeToString()
    bad_span = good.replace(b"\x2a\x02ab", b"\x2a\x02\xff\xfe")
    assert bad_span != good
    # ExportTraceServiceRequest{resource_spans{scope_spans{spans: bad}}} by hand
    scope = b"\x12" + varint(len(bad_span)) + bad_span
    resource = b"\x12" + varint(len(scope)) + scope
    body = raw + b"\x0a" + varint(len(resource)) + resource
    r = requests.post(f"{ports.http_url}/v1/traces", data=body,
                      headers={"Content-Type": "application/x-protobuf"}, timeout=10)
    assert r.status_code == 400, r.status_code
    after = make_span("after", status=trace_pb2.Status(code=ERROR))
    grpc_export(ports.grpc, trace_request([after]))
    mariadb.wait_count(database, "failed_spans", 1)
    assert [r["span_name"] for r in rows(mariadb, database, "failed_spans")] == ["after"]


def test_row_the_server_refuses_costs_only_itself(collector, ports, mariadb):
    """A schema narrower than the exporter expects (span_name VARCHAR(10),
    altered by hand, create_schema off): the one span whose name does not fit
    is refused by MariaDB's strict mode and counted as failed; the others in
    the same batch are stored."""
    database = new_db()
    first = start(collector, ports, mariadb, database)
    wait_until(lambda: mariadb.count(database, "failed_spans") == 0, what="schema")
    assert first.terminate() == 0
    mariadb.query("ALTER TABLE failed_spans MODIFY span_name VARCHAR(10) NOT NULL", database=database)
    ports2 = Ports.new()
    exporter = {"endpoint": mariadb.dsn(database), "create_schema": False,
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "1s"}}
    collector(config_yaml(ports2, exporters={"mysql": exporter}, pipelines={"traces": pipeline(["mysql"])}))
    spans = [make_span(n, status=trace_pb2.Status(code=ERROR)) for n in ("short", "far too long a name", "short2")]
    grpc_export(ports2.grpc, trace_request(spans))
    mariadb.wait_count(database, "failed_spans", 2)
    failed = wait_until(lambda: sample_value(parse_prometheus(requests.get(
        f"http://127.0.0.1:{ports2.metrics}/metrics", timeout=5).text),
        "otelcol_exporter_send_failed_spans_total", exporter="mysql"), what="the refused row counted")
    assert failed == 1.0
    assert sorted(r["span_name"] for r in rows(mariadb, database, "failed_spans")) == ["short", "short2"]
