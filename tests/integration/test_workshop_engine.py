"""The workshop end to end on the real Docker engine.

A stack from `stackctl init --with alertmanager --with-workshop` (collector,
Prometheus, MariaDB, Alertmanager, on free host ports) and the workshop's
demo apps in their own compose project (DIR/workshop, wired to the stack by
init), all on images scripts/docker-setup.sh built locally (no registry):
`stackctl workshop up` waits until the apps are healthy, `stackctl workshop
load` drives traffic through the web front for a bounded time, and then,
scenario by scenario, `stackctl workshop verify STEP` FAILS while the step's
scenario is not active and PASSES once it is (Prometheus, MariaDB and
Alertmanager checks; Tempo and Jaeger cannot run here). A switch shows in the
apps within seconds and reverts by itself after `--for`; `workshop down`
leaves nothing of the workshop's project behind.

Footprint figures (peak memory per container from `docker stats`, CPU under
load, time from `workshop up` to the first span the collector accepted) are
printed and, with OTELSTACK_WORKSHOP_FIGURES=FILE, written as JSON; they are
never pass/fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port
from stack_util import STACKCTL, TEST_IMAGES, ensure_collector_image, project_leftovers, set_env, stackctl

pytestmark = [
    pytest.mark.docker,
    pytest.mark.exclusive("docker-engine"),  # one engine: no other engine module runs meanwhile
]

NS = "otelstack-test"
WORKSHOP_IMAGES = {
    "WORKSHOP_WEB_IMAGE": f"{NS}/workshop-web:local",
    "WORKSHOP_PYTHON_IMAGE": f"{NS}/workshop-python:local",
    "WORKSHOP_PAYMENTS_IMAGE": f"{NS}/workshop-payments:local",
}
IMAGES = {**TEST_IMAGES, "ALERTMANAGER_IMAGE": f"{NS}/alertmanager:local", **WORKSHOP_IMAGES}
PORTS = {"otlp-grpc": "OTLP_GRPC_PORT", "otlp-http": "OTLP_HTTP_PORT", "prometheus": "PROMETHEUS_PORT",
         "mariadb": "MARIADB_PORT", "collector-metrics": "COLLECTOR_METRICS_PORT",
         "collector-prom": "COLLECTOR_PROM_PORT", "collector-health": "COLLECTOR_HEALTH_PORT",
         "alertmanager": "ALERTMANAGER_PORT"}
APPS = {"web", "orders", "payments", "payments-canary", "pipeline"}


def mib(text: str) -> float:
    """docker stats' `12.3MiB / 192MiB` (first half) in MiB."""
    m = re.match(r"\s*([\d.]+)\s*([KMG]i?B|B)", text)
    if not m:
        return 0.0
    scale = {"B": 1 / 2**20, "KiB": 1 / 1024, "KB": 1 / 1024, "MiB": 1, "MB": 1, "GiB": 1024, "GB": 1024}
    return float(m.group(1)) * scale[m.group(2)]


class Sampler(threading.Thread):
    """`docker stats --no-stream` over the two projects' containers, and the
    first span the collector accepted (its self metrics), until stopped."""

    def __init__(self, projects: tuple[str, str], metrics_port: int):
        super().__init__(daemon=True)
        self.projects, self.metrics_port = projects, metrics_port
        self.peak_mib: dict[str, float] = {}
        self.cpu: list[tuple[float, float]] = []  # (time, sum of CPU % of every container)
        self.first_span_at: float | None = None
        self.stopped = threading.Event()

    def accepted_spans(self) -> float:
        try:
            body = requests.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2).text
        except requests.RequestException:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
                   if line.startswith("otelcol_receiver_accepted_spans"))

    def run(self):
        while not self.stopped.is_set():
            if self.first_span_at is None and self.accepted_spans() > 0:
                self.first_span_at = time.monotonic()
            out = subprocess.run(["docker", "stats", "--no-stream", "--format",
                                  "{{.Name}}\t{{.MemUsage}}\t{{.CPUPerc}}"],
                                 capture_output=True, text=True, timeout=60).stdout
            total, now = 0.0, time.monotonic()
            for line in out.splitlines():
                name, mem, cpu = (line.split("\t") + ["", ""])[:3]
                if not name.startswith(self.projects):
                    continue
                self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), mib(mem))
                total += float(cpu.rstrip("%") or 0)
            self.cpu.append((now, total))
            self.stopped.wait(4)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = [i for i in IMAGES.values() if i != TEST_IMAGES["COLLECTOR_IMAGE"]
               and subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode != 0]
    assert not missing, f"images {missing} are missing: run scripts/docker-setup.sh"
    ensure_collector_image()
    name = f"otsws{os.getpid()}"
    d = tmp_path_factory.mktemp("workshop-engine") / name
    ports = {env: free_port() for env in PORTS.values()}
    stackctl("init", d, "--name", name, "--without", "tempo,jaeger,grafana", "--with", "alertmanager",
             "--with-workshop", *[a for flag, env in PORTS.items() for a in ("--port", f"{flag}={ports[env]}")],
             check=True)
    workshop = d / "workshop"
    web_port = free_port()
    # a pipeline run every 10 s instead of every minute, so its step shows within the test's time
    set_env(workshop, {"WORKSHOP_WEB_PORT": web_port, "PIPELINE_INTERVAL": 10})
    env = {**os.environ, **IMAGES, "STACKCTL_PROJECT_DIR": str(d), "STACKCTL_WORKSHOP_DIR": str(workshop)}
    up = stackctl("up", "--project-dir", d, "--no-pull", "--timeout", "300s", env=env)
    try:
        assert up.returncode == 0, f"stackctl up failed:\n{up.stdout}\n{up.stderr}"
        yield {"dir": d, "name": name, "env": env, "ports": ports, "web": f"http://127.0.0.1:{web_port}",
               "workshop": workshop}
    finally:
        stackctl("workshop", "down", env=env)
        stackctl("down", "--project-dir", d, "--volumes", env=env)


def workshop(stack, *args, timeout=600):
    return stackctl("workshop", *args, env=stack["env"], timeout=timeout)


def verify(stack, step):
    r = workshop(stack, "verify", step, "--window", "30s", timeout=120)
    return r.returncode, r.stdout + r.stderr


def wait_verify(stack, step, timeout=90):
    deadline, out = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        code, out = verify(stack, step)
        if code == 0:
            return out
        time.sleep(3)
    raise AssertionError(f"verify {step} did not pass within {timeout}s; last output:\n{out}")


def wait_for(what, ok, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return time.monotonic()
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout}s")


def web_scenario(stack) -> str:
    return requests.get(f"{stack['web']}/healthz", timeout=5).json()["scenario"]


def switch(stack, scenario, duration="10m"):
    r = workshop(stack, "scenario", scenario, "--for", duration)
    assert r.returncode == 0, r.stdout + r.stderr
    # every app reads the control file per request: the web front shows it within seconds
    wait_for(f"the web front to see {scenario}", lambda: web_scenario(stack) == scenario, timeout=10)


def fails_before(stack, step, missing: str, timeout=60):
    """The step's check fails while its scenario is not active (polled: what an
    earlier scenario left in the window must age out first)."""
    deadline, out = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        code, out = verify(stack, step)
        if code == 1 and out.startswith("FAIL") and f"missing: {missing}" in out:
            return
        time.sleep(3)
    raise AssertionError(f"verify {step} did not fail without its scenario within {timeout}s:\n{out}")


def test_workshop_on_the_engine_every_step_fails_without_its_scenario_and_passes_with_it(stack):
    env = stack["env"]
    sampler = Sampler((stack["name"] + "_", stack["name"] + "-workshop_"), stack["ports"]["COLLECTOR_METRICS_PORT"])
    sampler.start()
    started = time.monotonic()
    up = workshop(stack, "up", "--no-build", "--timeout", "300s")
    up_done = time.monotonic()
    assert up.returncode == 0, up.stdout + up.stderr
    assert "MariaDB: schema `workshop` and user `workshop` ready" in up.stdout and stack["web"] in up.stdout, up.stdout
    status = workshop(stack, "status")
    assert status.returncode == 0 and "scenario: baseline" in status.stdout, status.stdout + status.stderr
    for app in APPS:
        assert re.search(rf"^\s+{app}\s+running\s", status.stdout, re.M), status.stdout

    # no traffic yet: the data-flows check fails, naming the services without spans
    # (the web front's own /healthz requests, from its healthcheck, may already show as spans)
    code, out = verify(stack, "data-flows")
    assert code == 1 and re.search(r"missing: spans per service \(spanmetrics\): none from [a-z, ]*payments", out), out

    # bounded traffic, in the background for the whole scenario walk
    load = subprocess.Popen([str(STACKCTL), "workshop", "load", "--rps", "5",
                             "--duration", "330s"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    load_started = time.monotonic()
    try:
        walk_the_scenarios(stack)
    finally:
        load.terminate()
        load_out = load.communicate(timeout=30)[0]
        sampler.stopped.set()
        sampler.join(30)
        figures(stack, sampler, started, up_done, load_started)
    # the load ran the whole walk (stopped here before its --duration): its progress lines counted requests
    sent = [int(n) for n in re.findall(r"sent (\d+)", load_out)]
    assert sent and sent[-1] > 100, load_out[-2000:]

    down = workshop(stack, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    left = project_leftovers(f"{stack['name']}-workshop")
    assert not left["containers"], left


def walk_the_scenarios(stack):
    out = wait_verify(stack, "setup")
    assert "ok: MariaDB reachable" in out, out
    out = wait_verify(stack, "data-flows")
    assert "ok: orders placed (business counter)" in out, out

    # pipeline-stuck: transform fails and retries (a run every 10 s here)
    fails_before(stack, "pipeline", "transform retries")
    switch(stack, "pipeline-stuck")
    out = wait_verify(stack, "pipeline")
    assert "ok: failed transform attempts in failed_spans" in out, out

    # bad-deploy: only the canary, service.version 2.0.0, fails
    fails_before(stack, "bad-deploy", "failed payments from service.version 2.0.0: 0 rows")
    switch(stack, "bad-deploy")
    out = wait_verify(stack, "bad-deploy")
    assert "ok: failed payments from any other version: 0 rows" in out, out

    # slow-db: the orders API's p95 goes over the threshold (checked once the API is warm)
    fails_before(stack, "slow-db", "orders API p95 in ms")
    switch(stack, "slow-db")
    wait_verify(stack, "slow-db")

    # downstream-down: orders cannot reach payments; checkout through the web front fails at once
    fails_before(stack, "downstream-down", "orders spans failing with a connection error: 0 rows")
    switch(stack, "downstream-down")
    r = requests.post(f"{stack['web']}/checkout", json={"product_id": 1, "quantity": 1}, timeout=30)
    assert r.status_code >= 500, (r.status_code, r.text)
    wait_verify(stack, "downstream-down")

    # error-burst, for a bounded time: failures in MariaDB, an alert with its trace link in Alertmanager
    fails_before(stack, "error-burst", "failed payments in failed_spans with exception CardProcessorError: 0 rows")
    switch(stack, "error-burst", "90s")
    out = wait_verify(stack, "error-burst")
    assert re.search(r'ok: Alertmanager: active alert for payments with trace link "[^"]+', out), out
    # the error ratio is a rate over the last minute: it climbs over 1% as the burst goes on
    fails_before(stack, "recover", "error ratio over the last minute")
    # ... and it reverts by itself once its time is up
    wait_for("error-burst to revert", lambda: web_scenario(stack) == "baseline", timeout=90)
    status = workshop(stack, "status")
    assert "scenario: baseline" in status.stdout, status.stdout
    out = wait_verify(stack, "recover", timeout=120)
    assert "ok: error ratio over the last minute" in out, out


def figures(stack, sampler: Sampler, started: float, up_done: float, load_started: float):
    under_load = [c for t, c in sampler.cpu if t > load_started + 20]
    result = {
        "containers": len(sampler.peak_mib),
        "peak_mib": {k: round(v, 1) for k, v in sorted(sampler.peak_mib.items())},
        "peak_mib_total": round(sum(sampler.peak_mib.values()), 1),
        "cpu_percent_under_load_mean": round(sum(under_load) / len(under_load), 1) if under_load else None,
        "cpu_percent_under_load_max": round(max(under_load), 1) if under_load else None,
        "workshop_up_seconds": round(up_done - started, 1),
        "first_span_after_up_start_seconds":
            round(sampler.first_span_at - started, 1) if sampler.first_span_at else None,
        "load_avg": os.getloadavg(),
    }
    print("workshop footprint:", json.dumps(result, indent=2))
    if path := os.environ.get("OTELSTACK_WORKSHOP_FIGURES"):
        Path(path).write_text(json.dumps(result, indent=2) + "\n")
