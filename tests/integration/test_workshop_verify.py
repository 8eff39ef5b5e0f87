"""`stackctl workshop scenario` and `verify` against real backends, with the
workshop's Rust payments service as the app.

Peers are plain processes on 127.0.0.1 (no containers): the collector
(spanmetrics -> prometheus exporter, mysql, alert exporters), Prometheus
scraping it, MariaDB (Debian's mariadbd) holding the failures tables, and
Alertmanager (Debian's). Two payments instances run, service.version 1.4.0
and 2.0.0, reading the scenario file the test switches with stackctl. The
test drives charges itself (the web front and orders API are not part of
it) and checks, scenario by scenario, that `verify bad-deploy` and `verify
error-burst` pass when their scenario is active and fail when it is not,
and that a switch takes effect on the next request and reverts after --for.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO_ROOT, Ports, free_port, wait_tcp
from failures_peers import DB_PASSWORD, DB_USER, alertmanager, mariadb, wait_until, webhook  # noqa: F401
from otlp_util import to_yaml
from test_prometheus_exporter import Prometheus

STACKCTL = Path(os.environ.get("OTELSTACK_STACKCTL") or REPO_ROOT / "target/debug/stackctl")
PAYMENTS = REPO_ROOT / "target/debug/examples/workshop-payments"
DATABASE = "otelstack"


def stackctl(*args, env=None):
    return subprocess.run([str(STACKCTL), "workshop", *args], capture_output=True, text=True, timeout=120, env=env)


class Payments:
    """One instance of the workshop's payments service on a free port."""

    def __init__(self, workdir: Path, version: str, otlp_http: int, scenario_file: Path):
        assert PAYMENTS.exists(), f"{PAYMENTS} not built (cargo build --example workshop-payments)"
        self.port = free_port()
        self.log = open(workdir / f"payments-{version}.log", "wb")
        env = dict(os.environ, PORT=str(self.port), OTEL_SERVICE_NAME="payments",
                   OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{otlp_http}",
                   OTEL_RESOURCE_ATTRIBUTES=f"service.version={version},deployment.environment=workshop",
                   WORKSHOP_SCENARIO_FILE=str(scenario_file))
        self.proc = subprocess.Popen([str(PAYMENTS)], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        assert wait_tcp(self.port, 30, self.proc), "payments did not start"

    def charge(self, order: int) -> int:
        tp = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        r = requests.post(f"http://127.0.0.1:{self.port}/charge", json={"order_id": order, "amount_cents": 1200},
                          headers={"traceparent": tp}, timeout=5)
        return r.status_code

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture
def stack(tmp_path, mariadb, alertmanager, webhook, collector):  # noqa: F811
    # the collector is requested last so it stops first, while Alertmanager still answers
    """The backends and collector, a stack project dir describing them, and a workshop dir."""
    mariadb.query(f"CREATE DATABASE IF NOT EXISTS {DATABASE}", root=True)
    am = alertmanager({"group_by": ["alertname", "service"], "group_wait": "1s", "group_interval": "2s",
                       "repeat_interval": "1h"}, webhook.url)
    ports, prom_exporter = Ports.new(), free_port()
    prom = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{prom_exporter}")
    cfg = {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{ports.grpc}"},
                                             "http": {"endpoint": f"127.0.0.1:{ports.http}"}}}},
        "connectors": {"spanmetrics": {"metrics_flush_interval": "1s"}},
        "exporters": {
            "prometheus": {"endpoint": f"127.0.0.1:{prom_exporter}"},
            "prometheusremotewrite": {"endpoint": f"http://127.0.0.1:{prom.port}/api/v1/write"},
            "mysql": {"endpoint": mariadb.dsn(DATABASE), "traces": {"mode": "errors"},
                      "logs": {"min_severity": "ERROR"}},
            "alert": {"endpoint": am.url, "group_wait": "1s",
                      "trace_url_template": "http://localhost:3000/explore?traceId={{trace_id}}"},
        },
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["spanmetrics", "mysql", "alert"]},
                "metrics/spanmetrics": {"receivers": ["spanmetrics"], "exporters": ["prometheus"]},
                "metrics": {"receivers": ["otlp"], "exporters": ["prometheusremotewrite"]},
                "logs": {"receivers": ["otlp"], "exporters": ["mysql"]},
            },
        },
    }
    collector(to_yaml(cfg) + "\n")

    project = tmp_path / "stack"
    project.mkdir()
    (project / ".env").write_text(
        "COMPOSE_PROJECT_NAME=otelstack-workshop-verify-test\nCOLLECTOR_IMAGE=otelstack/collector:test\n"
        f"PROMETHEUS_PORT={prom.port}\nMARIADB_PORT={mariadb.port}\nMARIADB_USER={DB_USER}\n"
        f"MARIADB_PASSWORD={DB_PASSWORD}\nMARIADB_DATABASE={DATABASE}\nALERTMANAGER_PORT={am.port}\n"
        f"COLLECTOR_METRICS_PORT={ports.metrics}\nCOLLECTOR_HEALTH_PORT={ports.health}\n")
    # only the service names matter to verify: they say which backends the stack has
    (project / "docker-compose.yml").write_text(
        "services:\n" + "".join(f"  {s}:\n    image: {s}:test\n"
                                for s in ("collector", "prometheus", "mariadb", "alertmanager")))
    workshop = tmp_path / "workshop"
    workshop.mkdir()
    for f in ("docker-compose.yml", ".env"):
        shutil.copy(REPO_ROOT / "examples/workshop" / f, workshop / f)
    env = dict(os.environ, STACKCTL_PROJECT_DIR=str(project), STACKCTL_WORKSHOP_DIR=str(workshop))
    apps = [Payments(tmp_path, v, ports.http, workshop / "control/scenario.json") for v in ("1.4.0", "2.0.0")]
    yield {"env": env, "apps": apps, "prom": prom, "ports": ports, "workshop": workshop, "mariadb": mariadb}
    for a in apps:
        a.stop()
    prom.stop()


def verify(env, step):
    r = stackctl("verify", step, "--window", "60s", env=env)
    return r.returncode, r.stdout + r.stderr


def test_scenarios_switch_at_once_revert_and_each_verify_fails_unless_its_scenario_is_active(stack):
    env, (v1, v2), prom = stack["env"], stack["apps"], stack["prom"]
    # baseline: every charge succeeds on both versions
    assert [v.charge(i) for i in range(10) for v in (v1, v2)] == [200] * 20
    prom.wait_query('traces_span_metrics_calls_total{service_name="payments"}', timeout=30)
    code, out = verify(env, "error-burst")
    assert code == 1, out
    assert out.startswith("FAIL") and "missing: failed payments in failed_spans with exception CardProcessorError: 0 rows" in out, out
    assert "where it stopped: scenario: this step needs scenario error-burst but baseline is active" in out, out

    # a switch takes effect on the next request, and reverts by itself after --for
    r = stackctl("scenario", "bad-deploy", "--for", "3s", env=env)
    assert r.returncode == 0 and "active for 3s" in r.stdout, r.stdout + r.stderr
    assert (v2.charge(100), v1.charge(101)) == (500, 200)
    wait_until(lambda: v2.charge(102) == 200, timeout=10, interval=0.5, what="bad-deploy to revert")

    # bad-deploy: only 2.0.0 fails; verify bad-deploy passes, error-burst still fails
    assert stackctl("scenario", "bad-deploy", "--for", "5m", env=env).returncode == 0
    assert [v2.charge(200 + i) for i in range(10)] == [500] * 10
    assert [v1.charge(300 + i) for i in range(10)] == [200] * 10
    code, out = wait_until(lambda: (c := verify(env, "bad-deploy"))[0] == 0 and c, timeout=30, interval=1,
                           what="verify bad-deploy to pass")
    assert "ok: failed payments from service.version 2.0.0" in out and "ok: failed payments from any other version: 0 rows" in out, out
    code, out = verify(env, "error-burst")
    assert code == 1 and "missing: failed payments in failed_spans with exception CardProcessorError" in out, out

    # error-burst: a share of charges on every version fail; the alert carries the trace link
    assert stackctl("scenario", "error-burst", "--for", "5m", env=env).returncode == 0
    codes = [v.charge(400 + i) for i in range(30) for v in (v1, v2)]
    assert 500 in codes and 200 in codes, codes
    code, out = wait_until(lambda: (c := verify(env, "error-burst"))[0] == 0 and c, timeout=45, interval=1,
                           what="verify error-burst to pass")
    assert "ok: payments error spans" in out and "ok: Alertmanager: active alert for payments with trace link" in out, out
    assert "trace_url" not in out and "http://localhost:3000/explore?traceId=" in out, out
    # and bad-deploy no longer holds: 1.4.0 fails too
    code, out = verify(env, "bad-deploy")
    assert code == 1 and "missing: failed payments from any other version" in out, out

    r = stackctl("scenario", "no-such-thing", env=env)
    assert r.returncode == 2 and "choose one of baseline, error-burst" in r.stderr, r.stderr
