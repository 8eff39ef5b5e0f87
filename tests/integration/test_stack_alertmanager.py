"""`stackctl init --with alertmanager`: the optional Alertmanager service.

The rendered project passes docker-compose 1.29's `config`, the collector
validates its config (with the `alert` exporter in the traces and logs
pipelines), Debian's amtool accepts the rendered alertmanager.yml, and
Debian's Alertmanager runs it: an alert in the collector's label shape is
accepted and listed under the `ui-only` receiver.
"""

from __future__ import annotations

import json
import subprocess

import requests

from conftest import COLLECTOR_BIN, free_port
from failures_peers import ALERTMANAGER, wait_until
from stack_files import init_project


def test_alertmanager_service_renders_validates_and_runs(tmp_path):
    project = tmp_path / "stack"
    init_project(project, "--with", "alertmanager")

    out = subprocess.run(["docker-compose", "config"],
                         cwd=project, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "alertmanager:" in out.stdout and "127.0.0.1" in out.stdout and "9093" in out.stdout, out.stdout

    env = {"MARIADB_USER": "otelstack", "MARIADB_PASSWORD": "pw", "MARIADB_DATABASE": "otelstack", "PATH": "/usr/bin"}
    v = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(project / "otelcol/config.yaml")],
                       capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path)
    assert v.returncode == 0, v.stdout + v.stderr
    config = (project / "otelcol/config.yaml").read_text()
    assert "exporters: [mysql, alert]" in config and "spanmetrics, mysql, alert]" in config, config
    assert "GRAFANA_IMAGE" in (project / ".env").read_text() and "ALERTMANAGER_PORT=9093" in (project / ".env").read_text()
    ds = (project / "grafana/provisioning/datasources/otelstack.yaml").read_text()
    assert "uid: alertmanager" in ds and "url: http://alertmanager:9093" in ds, ds

    am_config = project / "alertmanager/alertmanager.yml"
    check = subprocess.run(["amtool", "check-config", str(am_config)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr

    port = free_port()
    log = open(tmp_path / "alertmanager.log", "wb")
    am = subprocess.Popen([ALERTMANAGER, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am-data'}",
                           f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                          stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return requests.get(f"{base}/-/ready", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_until(ready, timeout=30, what="Alertmanager ready")
        alert = [{"labels": {"alertname": "FailedOperation", "service": "payments", "operation": "POST /charge",
                             "error_type": "CardProcessorError"},
                  "annotations": {"trace_url": "http://localhost:3000/explore?x=1"}}]
        r = requests.post(f"{base}/api/v2/alerts", data=json.dumps(alert),
                          headers={"content-type": "application/json"}, timeout=5)
        assert r.status_code == 200, r.text
        got = wait_until(lambda: requests.get(f"{base}/api/v2/alerts", timeout=5).json(), timeout=10,
                         what="the alert listed")
        assert [a["labels"]["service"] for a in got] == ["payments"]
        assert [rc["name"] for rc in got[0]["receivers"]] == ["ui-only"]
    finally:
        am.terminate()
        am.wait(10)
        log.close()
