"""Footprint of the workshop apps at the default load, on the host (not a
pass/fail test: `make test` does not collect it; run it by name):

    .venv/bin/pytest tests/integration/bench_workshop_footprint.py -s -p no:cacheprovider

Starts the same peers and apps as test_workshop_apps.py (collector,
Prometheus, MariaDB, Alertmanager; payments x2, orders, pipeline, web), runs
`stackctl workshop load` at its default 5 req/s for 60 s, and prints each
process's peak RSS (VmHWM) and CPU use over the load (utime+stime / wall).
"""

from __future__ import annotations

import os
import subprocess
import time

from conftest import free_port, wait_tcp
from failures_peers import alertmanager, mariadb, webhook  # noqa: F401
from test_workshop_apps import WEB, apps  # noqa: F401
from test_workshop_verify import stack, stackctl  # noqa: F401

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_footprint(stack, apps, tmp_path):  # noqa: F811
    env = stack["env"]
    base, orders, pipeline = apps
    port = free_port()
    web_env = dict(os.environ, PORT=str(port), ORDERS_URL=base, OTEL_SERVICE_NAME="web",
                   OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{stack['ports'].grpc}",
                   OTEL_EXPORTER_OTLP_PROTOCOL="grpc", OTEL_METRIC_EXPORT_INTERVAL="10000",
                   OTEL_METRIC_EXPORT_TIMEOUT="5000", OTEL_SEMCONV_STABILITY_OPT_IN="http",
                   WORKSHOP_SCENARIO_FILE=str(stack["workshop"] / "control/scenario.json"))
    web = subprocess.Popen(["node", "--require", "./tracing.js", "server.js"], cwd=WEB, env=web_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_tcp(port, 60, web)
        v1, v2 = stack["apps"]
        procs = {"web (node)": web.pid, "orders (uvicorn)": orders.proc.pid, "pipeline": pipeline.proc.pid,
                 "payments 1.4.0": v1.proc.pid, "payments 2.0.0": v2.proc.pid}
        before = {k: cpu_seconds(p) for k, p in procs.items()}
        start = time.monotonic()
        r = stackctl("load", "--url", f"http://127.0.0.1:{port}", "--duration", "60s", env=env)
        wall = time.monotonic() - start
        print("\n" + r.stdout)
        print(f"{'process':<20} {'peak RSS MB':>12} {'CPU % of a core':>16}")
        for k, p in procs.items():
            print(f"{k:<20} {peak_rss_mb(p):>12.1f} {100 * (cpu_seconds(p) - before[k]) / wall:>16.1f}")
    finally:
        web.terminate()
        web.wait(15)
