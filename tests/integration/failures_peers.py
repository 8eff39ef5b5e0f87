"""Real peers for the failure-store and alert tests, each a plain process on
a temp dir and a free 127.0.0.1 port, stopped at teardown:

- `MariaDB`: Debian's `mariadbd`, initialised with `mariadb-install-db` into
  its own data dir (unix socket in that dir too), with a password user
  `otel` for the collector; `restart()` stops and starts it on the same
  port and data. `query()` runs SQL through PyMySQL.
- `Alertmanager`: Debian's `prometheus-alertmanager` (no clustering) routing
  to a webhook.
- `WebhookSink`: an HTTP server recording JSON bodies; it can answer the
  next requests with an error status to exercise retries.

Fixtures: `mariadb` (one server per test module), `alertmanager` (factory),
`webhook`. Import them into a test module to use them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pymysql
import pytest
import requests

from conftest import free_port, wait_tcp

MARIADBD = "/usr/sbin/mariadbd"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
DB_USER, DB_PASSWORD = "otel", "otel-pw"


class MariaDB:
    def __init__(self, root: Path, extra_args: tuple[str, ...] = ()):
        self.root = root
        self.extra_args = tuple(extra_args)
        self.datadir = root / "data"
        # Its own tmpdir: the server's temporary tables then live beside its
        # data, not in a /tmp shared with every other server and test.
        self.tmpdir = root / "tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.socket = root / "mysqld.sock"
        self.port = free_port()
        self.log = root / "mariadbd.log"
        self.proc: subprocess.Popen | None = None
        self._install()
        self.start()
        self.query(f"CREATE USER '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}'", root=True)
        self.query(f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'%'", root=True)

    def _install(self):
        """Bootstrap the system tables; a failed bootstrap is retried once on
        an empty data dir before the fixture gives up."""
        for attempt in (1, 2):
            shutil.rmtree(self.datadir, ignore_errors=True)
            init = subprocess.run(
                ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                 f"--tmpdir={self.tmpdir}", "--auth-root-authentication-method=normal",
                 "--skip-test-db"],
                capture_output=True, text=True, timeout=120)
            if init.returncode == 0:
                return
        pytest.fail(f"mariadb-install-db failed twice:\n{init.stdout[-2000:]}\n{init.stderr[-3000:]}")

    def start(self):
        self._out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
             f"--tmpdir={self.tmpdir}", f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root", "--skip-name-resolve",
             f"--pid-file={self.root / 'mariadbd.pid'}", "--innodb-buffer-pool-size=32M",
             "--skip-log-bin", "--max-connections=200", *self.extra_args],
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mariadbd exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            if wait_tcp(self.port, 0.5, self.proc):
                try:
                    self.query("SELECT 1", root=True)
                    return
                except pymysql.MySQLError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"mariadbd not ready on port {self.port}:\n{self.log.read_text()[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.proc:
            self._out.close()
        self.proc = None

    def restart(self, down_for: float = 1.0):
        self.stop()
        time.sleep(down_for)
        self.start()

    def connect(self, database: str | None = None, root: bool = False):
        if root:
            return pymysql.connect(unix_socket=str(self.socket), user="root", database=database,
                                   autocommit=True, charset="utf8mb4")
        return pymysql.connect(host="127.0.0.1", port=self.port, user=DB_USER, password=DB_PASSWORD,
                               database=database, autocommit=True, charset="utf8mb4")

    def query(self, sql: str, args=None, *, database: str | None = None, root: bool = False, dict_rows=False):
        conn = self.connect(database, root)
        try:
            cls = pymysql.cursors.DictCursor if dict_rows else pymysql.cursors.Cursor
            with conn.cursor(cls) as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def count(self, database: str, table: str) -> int:
        try:
            return self.query(f"SELECT COUNT(*) FROM `{table}`", database=database)[0][0]
        except pymysql.MySQLError:
            return -1

    def wait_count(self, database: str, table: str, want: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        n = -1
        while time.monotonic() < deadline:
            n = self.count(database, table)
            if n >= want:
                return n
            time.sleep(0.1)
        pytest.fail(f"{database}.{table}: {n} rows after {timeout}s, expected {want}")

    def dsn(self, database: str | None = None) -> str:
        return f"mysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}" + (f"/{database}" if database else "")

    def close(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def mariadb():
    root = Path(tempfile.mkdtemp(prefix="otelstack-mariadb-"))
    db = MariaDB(root)
    yield db
    db.close()


class WebhookSink:
    """Records JSON POST bodies; `fail_next(n, status)` answers the next n
    requests with that status first."""

    def __init__(self):
        self.bodies: list = []
        self.attempts = 0
        self._cond = threading.Condition()
        self._fail: list[int] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink._cond:
                    sink.attempts += 1
                    status = sink._fail.pop(0) if sink._fail else 200
                    if status == 200:
                        sink.bodies.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(raw)})
                        sink._cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def fail_next(self, n: int, status: int):
        with self._cond:
            self._fail.extend([status] * n)

    def received(self) -> list:
        with self._cond:
            return [b["body"] for b in self.bodies]

    def wait_for(self, pred, timeout: float = 30.0, what: str = "webhook bodies") -> list:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                bodies = [b["body"] for b in self.bodies]
                if pred(bodies):
                    return bodies
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"timed out after {timeout}s waiting for {what}; got {json.dumps(bodies)[:3000]}")
                self._cond.wait(min(left, 0.2))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    sink = WebhookSink()
    yield sink
    sink.stop()


class Alertmanager:
    def __init__(self, root: Path, route: dict, webhook_url: str):
        from otlp_util import to_yaml

        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        cfg = {
            "route": {"receiver": "hook", **route},
            "receivers": [{"name": "hook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
        }
        (root / "alertmanager.yml").write_text(to_yaml(cfg) + "\n")
        self.log = root / "alertmanager.log"
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={root / 'alertmanager.yml'}", f"--storage.path={root / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"alertmanager exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail(f"alertmanager not ready:\n{self.log.read_text()[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alerts(self, active_only: bool = True) -> list:
        params = {"active": "true", "silenced": "false", "inhibited": "false"} if active_only else {}
        return requests.get(f"{self.url}/api/v2/alerts", params=params, timeout=5).json()

    def groups(self) -> list:
        return requests.get(f"{self.url}/api/v2/alerts/groups", timeout=5).json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


@pytest.fixture
def alertmanager(tmp_path):
    """Factory: alertmanager(route: dict, webhook_url) -> Alertmanager."""
    started = []

    def start(route: dict, webhook_url: str) -> Alertmanager:
        am = Alertmanager(tmp_path / f"alertmanager{len(started)}", route, webhook_url)
        started.append(am)
        return am

    yield start
    for am in started:
        am.stop()


def wait_until(pred, timeout: float = 30.0, what: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def env_without_dsn() -> dict:
    env = dict(os.environ)
    env.pop("OTELSTACK_MYSQL_DSN", None)
    return env
