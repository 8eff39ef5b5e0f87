"""The workshop's Python apps on the host, against the real collector,
Prometheus and MariaDB (the peers of test_workshop_verify.py's `stack`
fixture): the orders API (FastAPI, uvicorn) with its least-privilege MariaDB
user calling the Rust payments service, and the pipeline job every 2 s.
Scenario by scenario, `stackctl workshop verify` for slow-db,
downstream-down and pipeline fails before the scenario and passes under it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest
import requests

from conftest import REPO_ROOT, free_port, wait_tcp
from failures_peers import alertmanager, mariadb, wait_until, webhook  # noqa: F401
from test_workshop_verify import stack, stackctl, verify  # noqa: F401

APPS = REPO_ROOT / "examples/workshop/python"
DB_PASSWORD = "workshop-test-pw"


def statements(sql: str) -> list[str]:
    text = "".join(line + "\n" for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


class App:
    def __init__(self, name: str, args: list[str], env: dict, workdir: Path, port: int | None = None):
        self.log_path = workdir / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, *args], cwd=APPS, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if port and not wait_tcp(port, 60, self.proc):
            pytest.fail(f"{name} did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        self.log.close()


@pytest.fixture
def apps(stack, tmp_path):  # noqa: F811
    db = stack["mariadb"]
    for st in statements((APPS.parent / "mariadb/workshop.sql").read_text()):
        db.query(st, root=True)
    db.query("ALTER USER 'workshop'@'%%' IDENTIFIED BY %s", (DB_PASSWORD,), root=True)
    v1, v2 = stack["apps"]
    port = free_port()
    env = dict(os.environ, WORKSHOP_DB_HOST="127.0.0.1", WORKSHOP_DB_PORT=str(db.port),
               WORKSHOP_DB_PASSWORD=DB_PASSWORD, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{stack['ports'].grpc}",
               OTEL_SEMCONV_STABILITY_OPT_IN="http", OTEL_METRIC_EXPORT_INTERVAL="1000",
               OTEL_RESOURCE_ATTRIBUTES="service.version=3.2.1,deployment.environment=workshop",
               WORKSHOP_SCENARIO_FILE=str(stack["workshop"] / "control/scenario.json"),
               PAYMENTS_URLS=f"http://127.0.0.1:{v1.port},http://127.0.0.1:{v2.port}")
    orders = App("orders", ["-m", "uvicorn", "orders:app", "--host", "127.0.0.1", "--port", str(port)],
                 dict(env, OTEL_SERVICE_NAME="orders"), tmp_path, port)
    pipeline = App("pipeline", ["pipeline.py"], dict(env, OTEL_SERVICE_NAME="pipeline", PIPELINE_INTERVAL="2"),
                   tmp_path)
    yield f"http://127.0.0.1:{port}", orders, pipeline
    for a in (orders, pipeline):
        a.stop()


def call(method: str, url: str, **kw) -> requests.Response:
    tp = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    return requests.request(method, url, headers={"traceparent": tp}, timeout=10, **kw)


def passes(env, step, poke=lambda: None, timeout=60):
    """Polls verify until it passes, poking traffic between tries: a counter
    series that first appears in a window shows no increase() until it grows."""
    def once():
        poke()
        c = verify(env, step)
        return c[0] == 0 and c
    return wait_until(once, timeout=timeout, interval=2, what=f"verify {step} to pass")


def test_orders_and_pipeline_play_each_scenario_and_verify_follows(stack, apps):  # noqa: F811
    env, db = stack["env"], stack["mariadb"]
    base, orders, pipeline = apps
    products = call("GET", f"{base}/products").json()
    assert [p["id"] for p in products] == [1, 2, 3, 4, 5, 6]
    placed = [call("POST", f"{base}/orders", json={"product_id": 3, "quantity": 2}) for _ in range(5)]
    assert [r.status_code for r in placed] == [201] * 5, [r.text for r in placed]
    rows = db.query("SELECT status, amount_cents FROM workshop.orders", root=True)
    assert list(rows) == [("paid", 9000)] * 5
    # least privilege: the app's user can add orders but not delete them or touch other schemas
    conn = pymysql.connect(host="127.0.0.1", port=db.port, user="workshop", password=DB_PASSWORD, database="workshop")
    with pytest.raises(pymysql.err.OperationalError, match="DELETE command denied"):
        conn.cursor().execute("DELETE FROM orders")
    with pytest.raises(pymysql.err.OperationalError, match="denied"):
        conn.cursor().execute("SELECT COUNT(*) FROM otelstack.failed_spans")
    conn.close()

    # slow-db: fails at baseline, passes once the products query is slow
    stack["prom"].wait_query('traces_span_metrics_calls_total{service_name="orders",span_kind="SPAN_KIND_SERVER"}',
                             timeout=30)
    code, out = verify(env, "slow-db")
    assert code == 1 and "where it stopped: scenario: this step needs scenario slow-db" in out, out
    assert stackctl("scenario", "slow-db", "--for", "5m", env=env).returncode == 0
    for _ in range(6):
        assert call("GET", f"{base}/products").status_code == 200
    code, out = passes(env, "slow-db")
    assert "ok: orders API p95 in ms" in out, out

    # downstream-down: orders cannot reach payments; its client span fails with a connection error
    code, out = verify(env, "downstream-down")
    assert code == 1, out
    assert stackctl("scenario", "downstream-down", "--for", "5m", env=env).returncode == 0
    down = [call("POST", f"{base}/orders", json={"product_id": 1}) for _ in range(3)]
    assert [r.status_code for r in down] == [502] * 3 and "payments unreachable" in down[0].text, down[0].text
    code, out = passes(env, "downstream-down", poke=lambda: call("POST", f"{base}/orders", json={"product_id": 2}))
    assert "ok: orders spans failing with a connection error" in out, out

    # pipeline: successful runs at baseline fail the check; stuck transform passes it
    assert stackctl("scenario", "baseline", env=env).returncode == 0
    wait_until(lambda: db.query("SELECT COUNT(*) FROM workshop.order_stats", root=True)[0][0] >= 1, timeout=30,
               what="a successful pipeline run loading order_stats")
    code, out = verify(env, "pipeline")
    assert code == 1 and "missing: failed pipeline runs" in out, out
    assert stackctl("scenario", "pipeline-stuck", "--for", "5m", env=env).returncode == 0
    code, out = passes(env, "pipeline", timeout=90)
    assert "ok: transform retries" in out and "ok: failed transform attempts in failed_spans" in out, out
    # verify passes on the first failed attempt stored; the run's later
    # attempts may still be on their way (SDK batch, collector batch, exporter)
    def stuck():
        return db.query("SELECT COUNT(*) FROM otelstack.failed_spans WHERE service_name = 'pipeline' "
                        "AND span_name = 'transform'", root=True)[0][0] >= 3
    wait_until(stuck, timeout=30, what="every attempt of a stuck run stored as a failed span (3 or more)")


WEB = REPO_ROOT / "examples/workshop/web"


def test_load_through_the_web_front_reaches_every_service(stack, apps, tmp_path):  # noqa: F811
    env = stack["env"]
    base, _, _ = apps
    port = free_port()
    log = open(tmp_path / "web.log", "wb")
    web_env = dict(os.environ, PORT=str(port), ORDERS_URL=base, OTEL_SERVICE_NAME="web",
                   OTEL_RESOURCE_ATTRIBUTES="service.version=1.0.0,deployment.environment=workshop",
                   OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{stack['ports'].grpc}",
                   OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="otlp",
                   OTEL_LOGS_EXPORTER="otlp", OTEL_METRIC_EXPORT_INTERVAL="1000", OTEL_METRIC_EXPORT_TIMEOUT="1000",
                   OTEL_SEMCONV_STABILITY_OPT_IN="http",
                   WORKSHOP_SCENARIO_FILE=str(stack["workshop"] / "control/scenario.json"))
    web = subprocess.Popen(["node", "--require", "./tracing.js", "server.js"], cwd=WEB, env=web_env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        assert wait_tcp(port, 60, web), (tmp_path / "web.log").read_text()[-3000:]
        r = stackctl("load", "--url", f"http://127.0.0.1:{port}", "--rps", "10", "--duration", "6s", "--json", env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        summary = json.loads(r.stdout[r.stdout.index("{"):])
        assert summary["sent"] == 60 and summary["errors"] == 0 and summary["ok"] == 60, summary
        assert set(summary["journeys"]) <= {"browse", "cart", "checkout"} and summary["journeys"], summary
        # spans and the apps' own histograms from all three services reach Prometheus
        load_more = lambda: stackctl("load", "--url", f"http://127.0.0.1:{port}", "--rps", "5", "--duration", "2s",  # noqa: E731
                                     env=env)
        code, out = passes(env, "data-flows", poke=load_more, timeout=90)
        assert "ok: the apps' own http.server.request.duration histograms (remote write): all present" in out, out
        code, out = verify(env, "recover")
        assert code == 0 and "error ratio over the last minute: 0.00%" in out, out
    finally:
        web.terminate()
        web.wait(15)
        log.close()
