"""`stackctl failures` on a seeded database: a real MariaDB whose schema the
collector's mysql exporter created, rows inserted with known values and
times; the plain table, `--json`, `--summary`, the filters, the connection
settings precedence (--dsn > OTELSTACK_MYSQL_DSN > .env) and the error
sentences and exit codes.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import REPO_ROOT, config_yaml, free_port, pipeline
from failures_peers import DB_PASSWORD, DB_USER, env_without_dsn, mariadb, wait_until  # noqa: F401 - fixture
from test_mysql_exporter import new_db

pytestmark = [pytest.mark.mariadb]

STACKCTL = Path(os.environ.get("OTELSTACK_STACKCTL") or REPO_ROOT / "target/debug/stackctl")
T1, T2, T3 = "a1" * 16, "b2" * 16, "c3" * 16


def stackctl(*args, env=None, cwd=None):
    return subprocess.run([str(STACKCTL), "failures", *args], capture_output=True, text=True, timeout=60,
                          env=env or env_without_dsn(), cwd=cwd)


@pytest.fixture(scope="module")
def seeded(mariadb, tmp_path_factory):
    """A database with the exporter's schema and five known failures; returns
    (database, {name: UTC time})."""
    database = new_db()
    from conftest import Collector, Ports

    ports = Ports.new()
    cfg = config_yaml(ports, exporters={"mysql": {"endpoint": mariadb.dsn(), "database": database}},
                      pipelines={"traces": pipeline(["mysql"])})
    c = Collector(cfg, tmp_path_factory.mktemp("seed"))
    try:
        c.wait_healthy()
        wait_until(lambda: mariadb.count(database, "error_logs") == 0, what="the exporter's schema")
    finally:
        assert c.terminate() == 0
        c.close()
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    times = {"pay1": now - timedelta(minutes=5), "pay2": now - timedelta(minutes=10),
             "cart": now - timedelta(minutes=20), "old": now - timedelta(hours=3),
             "log": now - timedelta(minutes=1)}
    span_sql = ("INSERT INTO failed_spans (trace_id, span_id, service_name, span_name, span_kind, start_time, "
                "end_time, duration_ms, status_code, status_message, exception_type, exception_message, "
                "resource_attributes, span_attributes) VALUES (%s,%s,%s,%s,'SERVER',%s,%s,12.5,'ERROR',%s,%s,%s,'{}','{}')")
    for key, trace, span, svc, name, status, etype, emsg in [
        ("pay1", T1, "01" * 8, "checkout", "POST /pay", "payment failed", "ValueError", "card declined"),
        ("pay2", T2, "02" * 8, "checkout", "POST /pay", "payment failed", "ValueError", "card expired"),
        ("cart", T3, "03" * 8, "cart", "GET /cart", "upstream timeout", None, None),
        ("old", "d4" * 16, "04" * 8, "checkout", "POST /pay", "old failure", "OSError", "disk"),
    ]:
        mariadb.query(span_sql, (trace, span, svc, name, times[key], times[key], status, etype, emsg), database=database)
    mariadb.query("INSERT INTO error_logs (record_hash, time, service_name, scope_name, severity_number, severity_text, "
                  "body, trace_id, span_id, attributes, resource_attributes) VALUES "
                  "(%s, %s, 'billing', 'billing.worker', 17, 'ERROR', 'provider timed out', %s, %s, %s, '{}')",
                  ("f" * 64, times["log"], T1, "05" * 8, json.dumps({"exception.type": "TimeoutError",
                                                                     "code.function.name": "charge"})),
                  database=database)
    return database, times


def fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def test_plain_table_newest_first(mariadb, seeded):
    database, t = seeded
    r = stackctl("--dsn", mariadb.dsn(database))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "TIME (UTC)           SERVICE   OPERATION  ERROR                             TRACE ID",
        f"{fmt(t['log'])}  billing   charge     TimeoutError: provider timed out  {T1}",
        f"{fmt(t['pay1'])}  checkout  POST /pay  ValueError: card declined         {T1}",
        f"{fmt(t['pay2'])}  checkout  POST /pay  ValueError: card expired          {T2}",
        f"{fmt(t['cart'])}  cart      GET /cart  upstream timeout                  {T3}",
    ], r.stdout


def test_json_filters_and_limit(mariadb, seeded):
    database, t = seeded
    r = stackctl("--dsn", mariadb.dsn(database), "--json", "--service", "checkout", "--since", "4h")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["kind"], x["error"], x["message"], x["trace_id"]) for x in rows] == [
        ("span", "ValueError", "card declined", T1), ("span", "ValueError", "card expired", T2),
        ("span", "OSError", "disk", "d4" * 16)]
    assert rows[0] == {"time": t["pay1"].strftime("%Y-%m-%dT%H:%M:%S.000000Z"), "kind": "span",
                       "service": "checkout", "operation": "POST /pay", "error": "ValueError",
                       "message": "card declined", "trace_id": T1}
    r = stackctl("--dsn", mariadb.dsn(database), "--json", "--limit", "1")
    assert [x["service"] for x in json.loads(r.stdout)] == ["billing"]
    r = stackctl("--dsn", mariadb.dsn(database), "--service", "nobody")
    assert (r.returncode, r.stdout.strip()) == (0, "No failures for service nobody in the last 1h.")


def test_summary_plain_and_json(mariadb, seeded):
    database, t = seeded
    r = stackctl("--dsn", mariadb.dsn(database), "--summary")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "COUNT  SERVICE   OPERATION  ERROR             LAST SEEN (UTC)",
        f"2      checkout  POST /pay  ValueError        {fmt(t['pay1'])}",
        f"1      billing   charge     TimeoutError      {fmt(t['log'])}",
        f"1      cart      GET /cart  upstream timeout  {fmt(t['cart'])}",
    ], r.stdout
    r = stackctl("--dsn", mariadb.dsn(database), "--summary", "--json", "--since", "4h")
    top = json.loads(r.stdout)[0]
    assert (top["service"], top["operation"], top["error"], top["count"]) == ("checkout", "POST /pay", "ValueError", 2)


def test_settings_from_dotenv_and_env(mariadb, seeded, tmp_path):
    database, _ = seeded
    (tmp_path / ".env").write_text(f"MARIADB_PORT={mariadb.port}\nMARIADB_DATABASE={database}\n"
                                   f"MARIADB_USER={DB_USER}\nMARIADB_PASSWORD='{DB_PASSWORD}'\n")
    from_file = stackctl("--project-dir", str(tmp_path), "--json")
    assert from_file.returncode == 0, from_file.stderr
    assert len(json.loads(from_file.stdout)) == 4
    from_cwd = stackctl("--json", cwd=tmp_path)
    assert from_cwd.stdout == from_file.stdout
    # the environment wins over .env, the flag over both
    (tmp_path / ".env").write_text(f"MARIADB_PORT={free_port()}\n")
    env = {**env_without_dsn(), "OTELSTACK_MYSQL_DSN": mariadb.dsn(database)}
    assert stackctl("--project-dir", str(tmp_path), "--json", env=env).stdout == from_file.stdout
    r = stackctl("--project-dir", str(tmp_path), "--dsn", mariadb.dsn("nosuchdb"), env=env)
    assert r.returncode == 1 and "no failure tables yet" in r.stderr, r.stderr


def test_errors_are_sentences_with_exit_codes(mariadb, seeded, tmp_path):
    database, _ = seeded
    port = free_port()
    r = stackctl("--dsn", f"mysql://otel:x@127.0.0.1:{port}/{database}")
    assert r.returncode == 1
    assert r.stderr.strip() == (f"stackctl failures: cannot connect to MariaDB at 127.0.0.1:{port}: connection "
                                "refused; is the stack running (`stackctl up`) or is --dsn right?")
    r = stackctl("--dsn", f"mysql://otel:wrong@127.0.0.1:{mariadb.port}/{database}")
    assert r.returncode == 1 and "refused the credentials" in r.stderr and "wrong" not in r.stderr, r.stderr
    r = stackctl("--dsn", mariadb.dsn(database), "--since", "soon")
    assert r.returncode == 2 and "use e.g. 30m, 1h or 2d" in r.stderr
    (tmp_path / ".env").write_text("MARIADB_PORT=mariadb\n")
    r = stackctl("--project-dir", str(tmp_path))
    assert r.returncode == 2 and "MARIADB_PORT" in r.stderr and "--dsn" in r.stderr
