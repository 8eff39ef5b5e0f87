"""The `alert` exporter against real receivers: a real Alertmanager
(Debian's prometheus-alertmanager, its own temp dir and port) and a webhook
server. Failures are sent through the collector; what arrives is checked
alert by alert: labels, annotations, the trace link, grouping by service +
operation + error type, one notification per group within
`repeat_interval`, resolved notices, retries on 503/429, Slack format.
"""

from __future__ import annotations

import time

import pytest
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from conftest import config_yaml, pipeline
from failures_peers import alertmanager, wait_until, webhook  # noqa: F401 - fixtures
from otlp_util import any_value, grpc_export, kvs, log_request, make_span, trace_request

pytestmark = [pytest.mark.alertmanager]

ERROR = trace_pb2.Status.STATUS_CODE_ERROR
LINK = "http://localhost:16686/trace/{{trace_id}}"


def alert_collector(collector, ports, **exporter):
    exporter.setdefault("trace_url_template", LINK)
    exporter.setdefault("retry_on_failure", {"initial_interval": "100ms", "max_interval": "500ms"})
    cfg = config_yaml(ports, exporters={"alert": exporter},
                      pipelines={"traces": pipeline(["alert"]), "logs": pipeline(["alert"])})
    return collector(cfg)


def exception_span(name: str, exc_type: str, message: str, **kw):
    event = trace_pb2.Span.Event(name="exception", time_unix_nano=time.time_ns(),
                                 attributes=kvs({"exception.type": exc_type, "exception.message": message}))
    return make_span(name, events=[event], **kw)


def error_span(name: str, message: str):
    return make_span(name, status=trace_pb2.Status(code=ERROR, message=message))


def by_group(bodies):
    out = {}
    for b in bodies:
        out.setdefault(b["group_key"], []).append(b)
    return out


def test_webhook_one_notification_per_group_then_resolved(collector, ports, webhook):
    # resolve_timeout leaves room for the second send below on a slow machine
    alert_collector(collector, ports, target="webhook", endpoint=webhook.url, group_wait="2s",
                    group_interval="1h", repeat_interval="1h", resolve_timeout="10s")
    pay = [exception_span("POST /pay", "ValueError", f"card {i} declined") for i in range(20)]
    cart = [error_span("GET /cart", "cart service timeout") for _ in range(5)]
    ok = [make_span("GET /health")]
    grpc_export(ports.grpc, trace_request(pay + cart + ok, resource={"service.name": "shop"}))

    bodies = webhook.wait_for(lambda b: len(b) >= 2, what="the two firing notifications")
    groups = by_group(bodies)
    assert set(groups) == {"shop|POST /pay|ValueError", "shop|GET /cart|cart service timeout"}
    fire = groups["shop|POST /pay|ValueError"][0]
    last = pay[-1]
    assert fire["status"] == "firing" and fire["version"] == "1" and fire["receiver"] == "alert"
    assert (fire["count"], fire["new"]) == (20, 20), "the storm is one notification with its count"
    assert fire["labels"] == {"alertname": "FailedOperation", "service": "shop", "operation": "POST /pay",
                              "error_type": "ValueError"}
    assert fire["annotations"]["summary"] == "shop POST /pay failed with ValueError (20 times)"
    assert fire["annotations"]["description"] == fire["message"] == "card 19 declined"
    assert fire["trace_id"] == last.trace_id.hex() and fire["span_id"] == last.span_id.hex()
    assert fire["trace_url"] == fire["annotations"]["trace_url"] == f"http://localhost:16686/trace/{last.trace_id.hex()}"
    assert fire["ends_at"] is None and fire["starts_at"].endswith("Z")
    cart_fire = groups["shop|GET /cart|cart service timeout"][0]
    assert (cart_fire["count"], cart_fire["labels"]["error_type"]) == (5, "cart service timeout")

    # more of the same within group_interval: no new notification, only the
    # resolved notice (with the final count) once the group is quiet
    grpc_export(ports.grpc, trace_request([exception_span("POST /pay", "ValueError", "again")],
                                          resource={"service.name": "shop"}))
    bodies = webhook.wait_for(lambda b: len(b) >= 4, what="the two resolved notices")
    groups = by_group(bodies)
    assert [b["status"] for b in groups["shop|POST /pay|ValueError"]] == ["firing", "resolved"]
    assert [b["status"] for b in groups["shop|GET /cart|cart service timeout"]] == ["firing", "resolved"]
    resolved = groups["shop|POST /pay|ValueError"][1]
    assert (resolved["count"], resolved["new"], resolved["message"]) == (21, 1, "again")
    assert resolved["ends_at"].endswith("Z")
    time.sleep(1)
    assert len(webhook.received()) == 4, "one firing and one resolved notice per group"


def test_webhook_retries_and_slack_format_for_logs(collector, ports, webhook):
    webhook.fail_next(1, 503)
    webhook.fail_next(1, 429)
    alert_collector(collector, ports, target="webhook", format="slack", endpoint=webhook.url,
                    group_wait="500ms", resolve_timeout="1h")
    rec = logs_pb2.LogRecord(time_unix_nano=time.time_ns(), severity_number=17, severity_text="ERROR",
                             body=any_value("payment provider unreachable"), trace_id=b"\x01" * 16,
                             span_id=b"\x02" * 8, attributes=kvs({"code.function.name": "charge"}))
    info = logs_pb2.LogRecord(severity_number=9, body=any_value("all good"))
    grpc_export(ports.grpc, log_request([rec, info], resource={"service.name": "billing"}), signal="logs")
    (body,) = webhook.wait_for(lambda b: len(b) >= 1, what="the slack message after two refusals")
    assert webhook.attempts == 3, "503 and 429 were retried"
    assert body == {"text": ":red_circle: *[FIRING]* billing charge failed with ERROR (once)\n"
                            "> payment provider unreachable\n"
                            f"<http://localhost:16686/trace/{'01' * 16}|trace {'01' * 16}>"}


def test_alertmanager_alerts_grouped_as_configured(collector, ports, webhook, alertmanager):
    am = alertmanager({"group_by": ["alertname", "service"], "group_wait": "1s", "group_interval": "2s",
                       "repeat_interval": "1h"}, webhook.url)
    alert_collector(collector, ports, endpoint=am.url, group_wait="1s", resolve_timeout="8s",
                    labels={"severity": "page", "team": "payments"})
    checkout = [exception_span("POST /pay", "ValueError", "declined"),
                exception_span("POST /pay", "ValueError", "declined again"),
                error_span("GET /cart", "timeout")]
    grpc_export(ports.grpc, trace_request(checkout, resource={"service.name": "checkout"}))
    grpc_export(ports.grpc, trace_request([error_span("reindex", "disk full")], resource={"service.name": "search"}))

    alerts = wait_until(lambda: len(am.alerts()) == 3 and am.alerts(), what="3 alerts in Alertmanager")
    by_op = {a["labels"]["operation"]: a for a in alerts}
    assert set(by_op) == {"POST /pay", "GET /cart", "reindex"}
    pay = by_op["POST /pay"]
    assert pay["labels"] == {"alertname": "FailedOperation", "service": "checkout", "operation": "POST /pay",
                             "error_type": "ValueError", "severity": "page", "team": "payments"}
    tid = checkout[1].trace_id.hex()
    assert pay["annotations"] == {
        "summary": "checkout POST /pay failed with ValueError (2 times)", "description": "declined again",
        "count": "2", "trace_id": tid, "trace_url": f"http://localhost:16686/trace/{tid}"}
    assert pay["generatorURL"] == f"http://localhost:16686/trace/{tid}"
    assert pay["status"]["state"] == "active"
    assert by_op["reindex"]["labels"]["error_type"] == "disk full"

    groups = {g["labels"]["service"]: sorted(a["labels"]["operation"] for a in g["alerts"]) for g in am.groups()}
    assert groups == {"checkout": ["GET /cart", "POST /pay"], "search": ["reindex"]}, "grouped by alertname+service"
    # Alertmanager's own notifications follow its route: one per service group
    notes = webhook.wait_for(lambda b: {n["groupLabels"].get("service") for n in b} >= {"checkout", "search"},
                             what="Alertmanager's grouped notifications")
    firing = {n["groupLabels"]["service"]: n for n in notes if n["status"] == "firing"}
    assert len(firing["checkout"]["alerts"]) == 2 and len(firing["search"]["alerts"]) == 1

    # quiet for resolve_timeout: the exporter resolves them, Alertmanager says so
    wait_until(lambda: am.alerts() == [], timeout=30, what="alerts resolved")
    webhook.wait_for(lambda b: {n["groupLabels"]["service"] for n in b if n["status"] == "resolved"}
                     >= {"checkout", "search"}, what="resolved notifications from Alertmanager")


def test_stopping_inside_group_wait_still_notifies_what_was_accepted(collector, ports, webhook, alertmanager):
    am = alertmanager({"group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s",
                       "repeat_interval": "1h"}, webhook.url)
    c = alert_collector(collector, ports, endpoint=am.url, group_wait="1h")
    spans = [exception_span("POST /pay", "ValueError", f"declined {i}") for i in range(3)]
    spans.append(error_span("GET /cart", "timeout"))
    grpc_export(ports.grpc, trace_request(spans, resource={"service.name": "checkout"}))
    time.sleep(0.5)
    assert am.alerts() == [], "group_wait is an hour: nothing is sent while the collector runs"

    assert c.terminate() == 0
    alerts = wait_until(lambda: len(am.alerts()) == 2 and am.alerts(), what="the pending groups in Alertmanager")
    by_op = {a["labels"]["operation"]: a for a in alerts}
    assert by_op["POST /pay"]["annotations"]["count"] == "3"
    assert by_op["POST /pay"]["annotations"]["description"] == "declined 2"
    assert by_op["GET /cart"]["annotations"]["count"] == "1"
    assert by_op["GET /cart"]["labels"]["error_type"] == "timeout"
