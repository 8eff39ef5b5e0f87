#!/usr/bin/env python3
"""Local peers for scripts/bench_stack.py: OTLP/gRPC trace sinks that count
span ids, HTTP sinks that count requests (remote write, Alertmanager), and a
real MariaDB (Debian's mariadbd in a temp dir) for the mysql exporter."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import grpc
import pymysql
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_coldstart import free_port  # noqa: E402

DB, DB_USER, DB_PASSWORD = "otelstack", "otel", "otel-pw"


class TraceSink:
    """An OTLP/gRPC trace server that counts span ids (exactly once)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: set[bytes] = set()
        self.dups = 0
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  options=[("grpc.max_receive_message_length", 64 << 20)])
        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(self.export)})
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def export(self, body: bytes, _ctx) -> bytes:
        req = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
        ids = [s.span_id for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
        with self.lock:
            before = len(self.seen)
            self.seen.update(ids)
            self.dups += len(ids) - (len(self.seen) - before)
        return b""

    def stop(self):
        self.server.stop(1)


class HttpSink:
    """Answers every POST with `status` and counts requests and bytes."""

    def __init__(self, status: int):
        sink = self
        self.requests = 0
        self.bytes = 0

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(n)
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


class MariaDB:
    """Debian's mariadbd in a temp dir, a database and a user for the exporter."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.socket = root / "mysqld.sock"
        datadir, tmpdir = root / "data", root / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
                        f"--tmpdir={tmpdir}", "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True, timeout=180)
        self.log = open(root / "mariadbd.log", "ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={datadir}", f"--socket={self.socket}",
             f"--tmpdir={tmpdir}", f"--port={self.port}", "--bind-address=127.0.0.1", "--user=root",
             "--skip-name-resolve", f"--pid-file={root / 'mariadbd.pid'}", "--innodb-buffer-pool-size=64M", "--skip-log-bin"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.query(f"CREATE DATABASE IF NOT EXISTS {DB}")
                break
            except pymysql.MySQLError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"mariadbd did not start; see {root / 'mariadbd.log'}")
                time.sleep(0.2)
        self.query(f"CREATE USER IF NOT EXISTS '{DB_USER}'@'%' IDENTIFIED BY '{DB_PASSWORD}'")
        self.query(f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'%'")

    def query(self, sql: str):
        conn = pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchall()
        finally:
            conn.close()

    def failed_span_ids(self) -> tuple[int, int]:
        """(rows, distinct span ids) in failed_spans; (0, 0) before the table exists."""
        try:
            return self.query(f"SELECT COUNT(*), COUNT(DISTINCT span_id) FROM {DB}.failed_spans")[0]
        except pymysql.MySQLError:
            return (0, 0)

    def reset(self):
        try:
            self.query(f"DELETE FROM {DB}.failed_spans")
        except pymysql.MySQLError:
            pass

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)
        self.log.close()


