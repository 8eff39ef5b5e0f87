"""The stack's "Recent failures" Grafana dashboard against the failure store
the `mysql` exporter really writes: a collector stores failed spans and error
logs (sent over OTLP) in a real MariaDB, creating the schema itself, and
every SQL of the dashboard runs there with Grafana's macros expanded, for
"All" services (the dashboard's custom all value) and for one service. A
column the exporter renames or drops fails this test.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import config_yaml, pipeline
from failures_peers import mariadb, wait_until  # noqa: F401 - fixture
from otlp_util import grpc_export, kvs, log_request, make_span, trace_request
from stack_files import REPO_ROOT, sql_queries

pytestmark = [pytest.mark.mariadb]

DATABASE = "otelstack_dashboard"
ERROR = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="card declined")
SERVER = trace_pb2.Span.SPAN_KIND_SERVER


def grafana_mysql_macros(sql: str, service: str) -> str:
    """Expands the macros Grafana's MySQL datasource would (last hour, UTC)."""
    sql = re.sub(r"\$__timeGroupAlias\((\w+),\s*'1m'\)",
                 lambda m: f'cast(cast(UNIX_TIMESTAMP({m.group(1)})/(60) as signed)*60 as signed) AS "time"', sql)
    sql = re.sub(r"\$__timeFilter\((\w+)\)",
                 r"\1 BETWEEN FROM_UNIXTIME(UNIX_TIMESTAMP() - 3600) AND FROM_UNIXTIME(UNIX_TIMESTAMP() + 60)", sql)
    sql = sql.replace("${service:sqlstring}", service)
    assert "$" not in sql, sql
    return sql


def failed(name: str, trace_id: bytes, minutes_ago: int, *, exception: str | None = None,
           status=ERROR) -> trace_pb2.Span:
    end = time.time_ns() - minutes_ago * 60_000_000_000
    events = []
    if exception:
        events = [trace_pb2.Span.Event(name="exception", time_unix_nano=end,
                                       attributes=kvs({"exception.type": exception,
                                                       "exception.message": "card declined"}))]
    return make_span(name, trace_id=trace_id, kind=SERVER, status=status, events=events,
                     start_time_unix_nano=end - 10_000_000, end_time_unix_nano=end)


def store_failures(collector, ports, db) -> dict:
    cfg = config_yaml(ports, exporters={"mysql": {"endpoint": db.dsn(), "database": DATABASE}},
                      pipelines={"traces": pipeline(["mysql"]), "logs": pipeline(["mysql"])})
    collector(cfg)
    ids = {k: bytes([i + 1]) * 16 for i, k in enumerate(("shop_old", "shop_new", "api"))}
    grpc_export(ports.grpc, trace_request([
        failed("checkout", ids["shop_old"], 2, exception="PaymentError"),
        failed("checkout", ids["shop_new"], 1, exception="PaymentError"),
        make_span("browse"),  # not a failure: not stored
    ], resource={"service.name": "shop"}))
    timeout = trace_pb2.Status(code=trace_pb2.Status.STATUS_CODE_ERROR, message="timeout")
    grpc_export(ports.grpc, trace_request([failed("GET /users", ids["api"], 1, status=timeout)],
                                          resource={"service.name": "api"}))
    now = time.time_ns()
    grpc_export(ports.grpc, log_request([
        logs_pb2.LogRecord(time_unix_nano=now - 60_000_000_000, observed_time_unix_nano=now, severity_number=17,
                           severity_text="ERROR", body=kvs({"b": "db down"})[0].value, trace_id=ids["api"],
                           span_id=b"\x07" * 8),
        logs_pb2.LogRecord(time_unix_nano=now, severity_number=9, severity_text="INFO",
                           body=kvs({"b": "fine"})[0].value),  # below ERROR: not stored
    ], resource={"service.name": "api"}), signal="logs")
    wait_until(lambda: db.count(DATABASE, "failed_spans") == 3 and db.count(DATABASE, "error_logs") == 1,
               what="3 failed spans and 1 error log in MariaDB")
    return {k: v.hex() for k, v in ids.items()}


def test_failures_dashboard_sql_runs_on_the_exporters_tables(collector, ports, mariadb):
    ids = store_failures(collector, ports, mariadb)

    def query(sql: str) -> list[list[str]]:
        return [["NULL" if c is None else str(c) for c in row] for row in mariadb.query(sql, database=DATABASE)]

    dash = json.loads((REPO_ROOT / "dashboards" / "recent-failures.json").read_text())
    var = dash["templating"]["list"][0]
    assert var["allValue"] == "service_name"
    assert sorted(row[0] for row in query(var["query"])) == ["api", "shop"]
    run = {title: (query(grafana_mysql_macros(sql, "service_name")), query(grafana_mysql_macros(sql, "'shop'")))
           for title, sql in sql_queries(dash) if not title.startswith("variable")}
    assert set(run) == {"Top failing operations", "Recent failed spans", "Recent error logs",
                        "Failed spans per minute", "Error logs per minute"}

    all_rows, shop_rows = run["Top failing operations"]
    assert [r[:4] for r in all_rows] == [["shop", "checkout", "PaymentError", "2"], ["api", "GET /users", "timeout", "1"]]
    assert [r[:4] for r in shop_rows] == [["shop", "checkout", "PaymentError", "2"]]

    all_rows, shop_rows = run["Recent failed spans"]
    assert len(all_rows) == 3 and len(shop_rows) == 2
    assert {r[8] for r in all_rows} == set(ids.values())
    assert [r[8] for r in shop_rows] == [ids["shop_new"], ids["shop_old"]], "newest first"
    assert shop_rows[0][1:4] == ["shop", "checkout", "SERVER"] and shop_rows[0][6:8] == ["PaymentError", "card declined"]

    all_rows, shop_rows = run["Recent error logs"]
    assert [r[1:5] for r in all_rows] == [["api", "ERROR", "db down", ids["api"]]]
    assert shop_rows == []

    all_rows, _ = run["Failed spans per minute"]
    assert sum(int(r[2]) for r in all_rows) == 3 and {r[1] for r in all_rows} == {"shop", "api"}
    all_rows, _ = run["Error logs per minute"]
    assert sum(int(r[2]) for r in all_rows) == 1


def test_failures_dashboard_sql_is_valid_on_an_empty_store(collector, ports, mariadb):
    """Before the first failure the service variable is empty and "All" is the
    column itself: every query still runs (and returns nothing)."""
    database = DATABASE + "_empty"
    collector(config_yaml(ports, exporters={"mysql": {"endpoint": mariadb.dsn(), "database": database}},
                          pipelines={"traces": pipeline(["mysql"]), "logs": pipeline(["mysql"])}))
    wait_until(lambda: mariadb.count(database, "failed_spans") == 0 and mariadb.count(database, "error_logs") == 0,
               what="the exporter's schema")
    dash = json.loads((REPO_ROOT / "dashboards" / "recent-failures.json").read_text())
    for title, sql in sql_queries(dash):
        sql = sql if title.startswith("variable") else grafana_mysql_macros(sql, "service_name")
        assert mariadb.query(sql, database=database) in ((), []), title
