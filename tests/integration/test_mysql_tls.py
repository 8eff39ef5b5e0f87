"""The `mysql` exporter over TLS to a real MariaDB (Debian's mariadbd with
`--ssl-cert/--ssl-key/--ssl-ca` and `--require-secure-transport=ON`, so a
plaintext connection is refused by the server). Certificates come from a
CA made in the test. The collector's database users are created with
`REQUIRE SSL` and `REQUIRE X509`, which MariaDB never grants over its unix
socket: a stored row proves the connection was TLS (and, for X509, that
the client certificate was presented). A wrong CA and a missing `tls`
section must store nothing and say why.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pymysql
import pytest

from conftest import config_yaml, pipeline
from failures_peers import MariaDB, wait_until
from otlp_util import grpc_export, make_span, trace_request
from pki import Pki
from test_mysql_exporter import ERROR_STATUS, new_db

pytestmark = [pytest.mark.mariadb]


@pytest.fixture(scope="module")
def tls_db():
    root = Path(tempfile.mkdtemp(prefix="otelstack-mariadb-tls-"))
    pki = Pki(root / "pki")
    server_cert, server_key = pki.issue("server", server=True)
    pki.client_cert, pki.client_key = pki.issue("collector", server=False)
    db = MariaDB(root, extra_args=(f"--ssl-ca={pki.ca}", f"--ssl-cert={server_cert}", f"--ssl-key={server_key}",
                                   "--require-secure-transport=ON"))
    for user, require in (("tls_only", "SSL"), ("x509", "X509")):
        db.query(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' REQUIRE {require}", root=True)
        db.query(f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'", root=True)
    db.pki = pki
    yield db
    db.close()


def tls_collector(collector, ports, db, database, user, tls=None):
    exporter = {
        "endpoint": f"mysql://{user}:pw@127.0.0.1:{db.port}",
        "database": database,
        "retry_on_failure": {"initial_interval": "100ms", "max_interval": "500ms", "max_elapsed_time": "0s"},
    }
    if tls is not None:
        exporter["tls"] = tls
    cfg = config_yaml(ports, exporters={"mysql": exporter}, pipelines={"traces": pipeline(["mysql"])})
    return collector(cfg)


def failing_span(name: str):
    return make_span(name, status=ERROR_STATUS)


def stored(db, database):
    """The stored spans, read as root over the unix socket (the test's own
    connections need no TLS); () until the exporter created the table."""
    try:
        return db.query("SELECT trace_id, span_id, span_name FROM failed_spans ORDER BY span_name",
                        database=database, root=True)
    except pymysql.MySQLError:
        return ()


@pytest.mark.parametrize("user,with_client_cert", [("tls_only", False), ("x509", True)])
def test_rows_arrive_over_tls(collector, ports, tls_db, user, with_client_cert):
    database = new_db()
    tls = {"ca_file": str(tls_db.pki.ca)}
    if with_client_cert:
        tls.update(cert_file=str(tls_db.pki.client_cert), key_file=str(tls_db.pki.client_key))
    tls_collector(collector, ports, tls_db, database, user, tls)
    spans = [failing_span("charge"), failing_span("refund")]
    grpc_export(ports.grpc, trace_request(spans, resource={"service.name": "billing"}))
    wait_until(lambda: len(stored(tls_db, database)) == 2, what="two rows stored over TLS")
    assert stored(tls_db, database) == tuple(
        (s.trace_id.hex(), s.span_id.hex(), s.name) for s in sorted(spans, key=lambda s: s.name))


@pytest.mark.parametrize("case", ["wrong CA", "no tls section", "no client certificate"])
def test_refused_connections_store_nothing_and_say_why(collector, ports, tls_db, tmp_path, case):
    database = new_db()
    if case == "wrong CA":
        other = Pki(tmp_path / "other", name="unrelated-ca")
        user, tls, expected = "tls_only", {"ca_file": str(other.ca)}, "invalid peer certificate: UnknownIssuer"
    elif case == "no tls section":
        # MariaDB 10.11 answers a login in clear with "Access denied"; the
        # exporter adds what to check
        user, tls, expected = "tls_only", None, "not encrypted: if the server or this user requires TLS"
    else:
        user, tls, expected = "x509", {"ca_file": str(tls_db.pki.ca)}, "Access denied for user 'x509'"
    c = tls_collector(collector, ports, tls_db, database, user, tls)
    grpc_export(ports.grpc, trace_request([failing_span("charge")], resource={"service.name": "billing"}))
    wait_until(lambda: expected in c.stderr(), timeout=20, what=f"{expected!r} in the collector's log")
    databases = [r[0] for r in tls_db.query("SHOW DATABASES", root=True)]
    assert database not in databases, "nothing was written"
