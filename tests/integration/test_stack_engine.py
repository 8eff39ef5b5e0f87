"""The stack on a real Docker engine (Debian's 20.10 + docker-compose 1.29),
driven by stackctl, with images built locally by scripts/docker-setup.sh and
`stackctl image build` (no registry is reachable: nothing may be pulled).

One stack (collector + prometheus + mariadb, on free host ports) is brought
up for the module; then a Python OTel SDK app on the host and a container in
a *separate* compose project (its own network, through
host.docker.internal) send to it, and what arrived is checked in Prometheus
(PromQL in its container: the app's metrics, the spanmetrics per operation,
the collector's self metrics) and in MariaDB (the failed spans); `status`,
`logs`, `doctor` are checked against it; the last test brings it down and checks that nothing is left. Failure paths (a service
that dies, a missing image, a dead engine, a taken port, not a project) use
projects of their own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from conftest import free_port
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from stack_util import (PORT_KEYS, SENDER_IMAGE, STACKCTL, TEST_IMAGES, docker_api, ensure_collector_image, image_env,
                        new_project, project_leftovers, read_env, set_env, stackctl)

pytestmark = [
    pytest.mark.docker,
    pytest.mark.exclusive("docker-engine"),  # one engine: no other engine module runs meanwhile
]

TESTDATA = Path(__file__).parent / "testdata" / "stack"
SERVICES = {"collector", "prometheus", "mariadb"}


@dataclass
class Stack:
    dir: Path
    name: str
    ports: dict
    up: subprocess.CompletedProcess
    down: bool = False
    spans_sent: int = field(default=0)

    def prom(self, promql: str) -> list:
        r = requests.get(f"http://127.0.0.1:{self.ports['PROMETHEUS_PORT']}/api/v1/query",
                         params={"query": promql}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def wait_prom(self, promql: str, ok, timeout: float = 90.0) -> list:
        deadline = time.monotonic() + timeout
        result = []
        while time.monotonic() < deadline:
            result = self.prom(promql)
            if ok(result):
                return result
            time.sleep(1)
        raise AssertionError(f"{promql}: no acceptable answer after {timeout}s; last: {result}")

    def collector_config(self) -> str:
        return (self.dir / "otelcol" / "config.yaml").read_text()


def compose_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["docker-compose", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def free_ports() -> dict:
    return {k: free_port() for k in PORT_KEYS}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    ensure_collector_image()
    name = f"otsrun{os.getpid()}"
    d = new_project(tmp_path_factory.mktemp("stack") / name, name)
    ports = free_ports()
    set_env(d, ports)
    up = stackctl("up", "--project-dir", d, "--no-pull", "--timeout", "300s", env=image_env())
    s = Stack(d, name, ports, up)
    try:
        assert up.returncode == 0, f"stackctl up failed:\n{up.stdout}\n{up.stderr}"
        yield s
    finally:
        if not s.down:
            stackctl("down", "--project-dir", d, "--volumes", env=image_env())


def test_up_waits_for_every_service_and_prints_where_to_go(stack):
    out = stack.up.stdout
    for svc in SERVICES:
        assert re.search(rf"^\s+{svc}\s+running \(healthy\)", out, re.M), f"no healthy progress line for {svc}:\n{out}"
    assert "all 3 services are up and healthy" in out
    p = stack.ports
    assert f"Prometheus   http://localhost:{p['PROMETHEUS_PORT']}/" in out
    assert f"grpc http://localhost:{p['OTLP_GRPC_PORT']}" in out
    assert f"http http://localhost:{p['OTLP_HTTP_PORT']}" in out
    assert f"http://host.docker.internal:{p['OTLP_GRPC_PORT']}" in out
    assert "Grafana" not in out and "Jaeger" not in out, "services that are not selected get no URL"


def send_from_host(stack: Stack) -> None:
    endpoint = f"http://127.0.0.1:{stack.ports['OTLP_GRPC_PORT']}"
    resource = Resource.create({"service.name": "stack-host-app"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=10)))
    tracer = tp.get_tracer("stack.host")
    for i in range(4):
        with tracer.start_as_current_span("host-checkout") as span:
            span.set_attribute("order", i)
    with tracer.start_as_current_span("host-checkout-failed") as span:
        span.set_status(Status(StatusCode.ERROR, "card declined"))
    tp.shutdown()
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True, timeout=10),
                                           export_interval_millis=3_600_000)
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    mp.get_meter("stack.host").create_counter("stack.orders").add(5, {"origin": "host"})
    mp.force_flush(timeout_millis=15_000)
    mp.shutdown()
    stack.spans_sent += 5


def send_from_other_project(stack: Stack, workdir: Path) -> str:
    """A container in its own compose project and network sends through host.docker.internal."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(TESTDATA / "sender.py", workdir / "sender.py")
    (workdir / "docker-compose.yml").write_text(f"""\
services:
  sender:
    image: {SENDER_IMAGE}
    command: ["python3", "/app/sender.py"]
    volumes:
      - ./sender.py:/app/sender.py:ro
    environment:
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://host.docker.internal:{stack.ports['OTLP_GRPC_PORT']}"
    extra_hosts:
      - "host.docker.internal:host-gateway"
    networks: [appnet]
networks:
  appnet: {{}}
""")
    project = f"{stack.name}app"
    assert compose_cli("config", "-q", cwd=workdir).returncode == 0
    try:
        run = compose_cli("-p", project, "up", "--abort-on-container-exit", "--exit-code-from", "sender", cwd=workdir)
        assert run.returncode == 0, f"the sender container failed:\n{run.stdout}\n{run.stderr}"
        # it really was on a network of its own, not the stack's
        nets = {n["Name"] for n in docker_api(
            "/networks", filters={"label": [f"com.docker.compose.project={project}"]})}
        assert nets == {f"{project}_appnet"}, nets
    finally:
        compose_cli("-p", project, "down", "-v", cwd=workdir)
    stack.spans_sent += 4
    return run.stdout


def test_host_app_and_other_project_container_both_arrive(stack, tmp_path):
    send_from_host(stack)
    sender_out = send_from_other_project(stack, tmp_path / "otherproject")
    assert "span export failures: 0" in sender_out, sender_out

    # Prometheus, in its container, has the app's counter from both senders, with their values
    # (scraped from the collector's prometheus exporter and remote-written by the collector).
    def both(result):
        by_origin = {r["metric"].get("origin"): float(r["value"][1]) for r in result}
        return by_origin.get("host") == 5.0 and by_origin.get("container") == 7.0

    result = stack.wait_prom('stack_orders_total{origin=~"host|container"}', both)
    jobs = {r["metric"].get("job") for r in result}
    assert {"stack-host-app", "stack-container-app"} <= jobs, result

    # the collector's self metrics, scraped by Prometheus, count the accepted spans
    stack.wait_prom("sum(otelcol_receiver_accepted_spans_total)",
                    lambda r: bool(r) and float(r[0]["value"][1]) >= 9)

    # every span, span by span: the spanmetrics connector's calls per service and
    # operation, scraped by Prometheus from the collector's :8889
    want = {("stack-host-app", "host-checkout", "STATUS_CODE_UNSET"): 4,
            ("stack-host-app", "host-checkout-failed", "STATUS_CODE_ERROR"): 1,
            ("stack-container-app", "container-etl", "STATUS_CODE_UNSET"): 3,
            ("stack-container-app", "container-etl-failed", "STATUS_CODE_ERROR"): 1}

    def calls(result):
        return {(r["metric"]["service_name"], r["metric"]["span_name"], r["metric"]["status_code"]):
                int(float(r["value"][1])) for r in result}

    result = stack.wait_prom('traces_span_metrics_calls_total{service_name=~"stack-.*"}',
                             lambda r: calls(r) == want)
    assert calls(result) == want, result

    # the failed spans, and only those, are in MariaDB
    deadline = time.monotonic() + 60
    while True:
        rows = sorted(mariadb_query(stack, "SELECT service_name, span_name, status_code FROM failed_spans")
                      .strip().splitlines())
        if len(rows) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert rows == ["stack-container-app\tcontainer-etl-failed\tERROR",
                    "stack-host-app\thost-checkout-failed\tERROR"], rows


def mariadb_query(stack: Stack, sql: str) -> str:
    env = read_env(stack.dir)
    p = compose_cli("-p", stack.name, "exec", "-T", "mariadb", "mariadb", "-h127.0.0.1", "-uotelstack",
                    f"-p{env['MARIADB_PASSWORD']}", "--batch", "--skip-column-names", "otelstack", "-e", sql,
                    cwd=stack.dir, env=image_env())
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_mariadb_takes_the_stack_user_on_the_published_port(stack):
    # the image honoured MARIADB_DATABASE/USER/PASSWORD; the port is published on 127.0.0.1 only
    assert mariadb_query(stack, "SELECT CURRENT_USER(), DATABASE()").strip() == "otelstack@%\totelstack"
    with socket.create_connection(("127.0.0.1", stack.ports["MARIADB_PORT"]), timeout=5) as s:
        greeting = s.recv(128)
    assert b"MariaDB" in greeting, greeting


def test_status_json_says_healthy_with_throughput(stack):
    p = stackctl("status", "--project-dir", stack.dir, "--json", env=image_env())
    assert p.returncode == 0, p.stdout + p.stderr
    report = json.loads(p.stdout)
    assert report["healthy"] is True and report["project"] == stack.name and report["missing"] == []
    by_service = {s["service"]: s for s in report["services"]}
    assert set(by_service) == SERVICES
    for s in by_service.values():
        assert (s["state"], s["health"]) == ("running", "healthy"), s
    published = {(x["container_port"], x["host_port"], x["host_ip"]) for x in by_service["collector"]["ports"]}
    assert (4317, stack.ports["OTLP_GRPC_PORT"], "0.0.0.0") in published
    assert (13133, stack.ports["COLLECTOR_HEALTH_PORT"], "127.0.0.1") in published
    assert {(x["container_port"], x["host_port"], x["host_ip"]) for x in by_service["prometheus"]["ports"]} == {
        (9090, stack.ports["PROMETHEUS_PORT"], "127.0.0.1")}
    col = report["collector"]
    assert col["health"] == "healthy", col
    assert col["health_url"] == f"http://127.0.0.1:{stack.ports['COLLECTOR_HEALTH_PORT']}/"
    t = col["throughput"]
    assert t["receiver_accepted_spans"] >= stack.spans_sent, (t, stack.spans_sent)
    assert t["receiver_accepted_metric_points"] >= 1 and t["exporter_sent_metric_points"] >= 1, t
    table = stackctl("status", "--project-dir", stack.dir, env=image_env())
    assert table.returncode == 0 and f"{stack.name}: healthy" in table.stdout, table.stdout


def test_logs_of_one_service_and_of_a_wrong_one(stack):
    p = stackctl("logs", "--project-dir", stack.dir, "prometheus", "--tail", "50", env=image_env())
    assert p.returncode == 0 and "Server is ready to receive web requests" in p.stdout, p.stdout[-2000:]
    bad = stackctl("logs", "--project-dir", stack.dir, "grafana", env=image_env())
    assert bad.returncode == 2
    assert "grafana is not a service of this stack; pick one of: collector, mariadb, prometheus" in bad.stderr


def test_logs_follow_streams_until_stopped(stack):
    p = subprocess.Popen([str(STACKCTL), "logs", "--project-dir", str(stack.dir), "collector", "-f", "--tail", "all"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **image_env()})
    try:
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            seen.append(line)
            if "otelstack-collector is running" in line:
                break
        assert any("otelstack-collector is running" in line for line in seen), "".join(seen)[-2000:]
        assert p.poll() is None, "with -f the command keeps following"
    finally:
        p.terminate()
        p.wait(10)


def all_volumes() -> set:
    return {v["Name"] for v in docker_api("/volumes").get("Volumes") or []}


def test_doctor_passes_on_the_running_stack(stack):
    volumes = all_volumes()
    p = stackctl("doctor", "--project-dir", stack.dir, env=image_env())
    assert p.returncode == 0, p.stdout + p.stderr
    # the probe container is gone, with the anonymous volume its image declares
    assert not [c for c in docker_api("/containers/json", all="true") if c["Names"][0].startswith("/stackctl-probe")]
    assert all_volumes() == volumes
    out = p.stdout
    assert re.search(r"\[ ok \] docker engine\s+Docker 20\.10", out), out
    assert re.search(r"\[ ok \] compose\s+docker-compose 1\.29", out), out
    assert f"port {stack.ports['OTLP_GRPC_PORT']} (OTLP_GRPC_PORT)" in out
    assert "published by this stack's collector" in out
    assert re.search(r"\[ ok \] host\.docker\.internal\s+resolves to \d+\.\d+\.\d+\.\d+ in a container", out), out
    for svc in SERVICES:
        assert re.search(rf"\[ ok \] image of {svc}\s+\S+ present", out), out
    assert "[FAIL]" not in out


def test_doctor_reports_a_taken_port_with_its_holder(stack, tmp_path):
    d = new_project(tmp_path / "busy", "otsrunbusy")
    ports = free_ports()
    set_env(d, ports)
    with socket.socket() as s:
        s.bind(("0.0.0.0", ports["OTLP_HTTP_PORT"]))
        s.listen()
        p = stackctl("doctor", "--project-dir", d, env=image_env())
    assert p.returncode == 1, p.stdout + p.stderr
    port = ports["OTLP_HTTP_PORT"]
    assert re.search(rf"\[FAIL\] port {port} \(OTLP_HTTP_PORT\)\s+OTLP/HTTP: taken by \S+ \(pid {os.getpid()}\)",
                     p.stdout), p.stdout
    assert "fix: stop " in p.stdout and f"(pid {os.getpid()}), or set OTLP_HTTP_PORT to a free port in {d.resolve()}/.env" in p.stdout
    assert re.search(rf"\[ ok \] port {ports['OTLP_GRPC_PORT']} \(OTLP_GRPC_PORT\)\s+OTLP/gRPC: free", p.stdout)
    assert "1 of " in p.stderr and "checks failed" in p.stderr


def test_down_leaves_no_containers_networks_or_volumes(stack):
    before = project_leftovers(stack.name)
    assert len(before["containers"]) == 3 and before["networks"] and len(before["volumes"]) == 2, before
    p = stackctl("down", "--project-dir", stack.dir, "--volumes", env=image_env())
    stack.down = True
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{stack.name} is down and its volumes are removed" in p.stdout
    assert project_leftovers(stack.name) == {"containers": [], "networks": [], "volumes": []}
    gone = stackctl("status", "--project-dir", stack.dir, "--json", env=image_env())
    assert gone.returncode == 1 and json.loads(gone.stdout)["services"] == []
    assert f"{stack.name} is not running; start it with `stackctl up`" in gone.stderr


# --- failure paths, each on a project of its own -------------------------------------------------

def test_up_shows_the_failing_services_logs(tmp_path):
    ensure_collector_image()
    name = f"otsrunfail{os.getpid()}"
    d = tmp_path / name
    d.mkdir()
    (d / "otelcol").mkdir()
    # a collector whose config names an exporter that does not exist: it exits at start
    (d / "otelcol" / "config.yaml").write_text(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n"
        "exporters:\n  nosuchexporter: {}\n"
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [nosuchexporter]\n")
    (d / "docker-compose.yml").write_text(
        "services:\n  collector:\n    image: ${COLLECTOR_IMAGE:-otelstack/collector:0.1.0}\n"
        "    command: [\"--config\", \"/etc/otelstack/config.yaml\"]\n"
        "    volumes: [\"./otelcol/config.yaml:/etc/otelstack/config.yaml:ro\"]\n"
        "    ports: [\"127.0.0.1:${OTLP_GRPC_PORT:-4317}:4317\"]\n")
    (d / ".env").write_text(f"COMPOSE_PROJECT_NAME={name}\nCOLLECTOR_IMAGE=otelstack/collector:0.1.0\n"
                            f"OTLP_GRPC_PORT={free_port()}\n")
    try:
        p = stackctl("up", "--project-dir", d, "--no-pull", "--timeout", "120s", env=image_env())
        assert p.returncode == 1, p.stdout + p.stderr
        assert "--- last 40 log lines of collector" in p.stderr
        assert "nosuchexporter" in p.stderr, p.stderr
        assert "error: service collector failed (state exited" in p.stderr
        assert "`stackctl logs collector` shows more" in p.stderr
    finally:
        stackctl("down", "--project-dir", d, "--volumes", env=image_env())
    assert project_leftovers(name)["containers"] == []


def test_up_names_a_taken_port_and_the_env_key_that_moves_it(tmp_path):
    ensure_collector_image()
    name = f"otsrunport{os.getpid()}"
    d = tmp_path / name
    (d / "otelcol").mkdir(parents=True)
    (d / "otelcol" / "config.yaml").write_text(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n"
        "exporters:\n  debug: {}\n"
        "service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n")
    (d / "docker-compose.yml").write_text(
        "services:\n  collector:\n    image: ${COLLECTOR_IMAGE:-otelstack/collector:0.1.0}\n"
        "    volumes: [\"./otelcol/config.yaml:/etc/otelstack/config.yaml:ro\"]\n"
        "    ports: [\"0.0.0.0:${OTLP_GRPC_PORT:-4317}:4317\"]\n")
    port = free_port()
    (d / ".env").write_text(f"COMPOSE_PROJECT_NAME={name}\nCOLLECTOR_IMAGE=otelstack/collector:0.1.0\n"
                            f"OTLP_GRPC_PORT={port}\n")
    try:
        with socket.socket() as s:
            s.bind(("0.0.0.0", port))
            s.listen()
            p = stackctl("up", "--project-dir", d, "--no-pull", "--timeout", "60s", env=image_env())
        assert p.returncode == 1, p.stdout + p.stderr
        assert re.search(rf"error: port {port} is already taken \(held by \S+ \(pid {os.getpid()}\)\); stop what holds "
                         rf"it, or set OTLP_GRPC_PORT to a free port in {re.escape(str(d.resolve()))}/.env", p.stderr), p.stderr
    finally:
        stackctl("down", "--project-dir", d, "--volumes", env=image_env())
    assert project_leftovers(name)["containers"] == []


def test_up_no_pull_refuses_an_image_that_is_not_local(tmp_path):
    name = f"otsrunnopull{os.getpid()}"
    d = new_project(tmp_path / name, name)
    set_env(d, free_ports())
    env = {**image_env(), "PROMETHEUS_IMAGE": "otelstack-test/not-built:none"}
    p = stackctl("up", "--project-dir", d, "--no-pull", env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    assert ("image otelstack-test/not-built:none of service prometheus is not present locally and --no-pull "
            "forbids pulling it") in p.stderr
    assert "set PROMETHEUS_IMAGE in .env" in p.stderr
    assert project_leftovers(name)["containers"] == [], "nothing is started when an image is missing"


def test_doctor_reports_a_stopped_engine(tmp_path):
    dead = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()  # a socket file nobody listens on: what a stopped dockerd leaves behind
    name = "otsrundead"
    d = new_project(tmp_path / name, name)
    set_env(d, free_ports())
    env = {**image_env(), "DOCKER_HOST": f"unix://{dead}"}
    p = stackctl("doctor", "--project-dir", d, env=env)
    assert p.returncode == 3, p.stdout + p.stderr
    assert re.search(rf"\[FAIL\] docker engine\s+not reachable at unix://{re.escape(str(dead))}", p.stdout), p.stdout
    assert "fix: the Docker engine is not reachable" in p.stdout and "sudo systemctl start docker" in p.stdout
    assert "[FAIL] memory, images, host.docker.internal not checked" in p.stdout
    # the checks that need no engine still ran
    assert re.search(r"\[ ok \] compose\s+docker-compose 1\.29", p.stdout), p.stdout
    assert re.search(r"\[ ok \] port \d+ \(OTLP_GRPC_PORT\)", p.stdout), p.stdout
    up = stackctl("up", "--project-dir", d, "--no-pull", env=env)
    assert up.returncode == 3 and "error: the Docker engine is not reachable at unix://" in up.stderr, up.stderr


@pytest.mark.parametrize("command", [["up"], ["down"], ["status"], ["logs"]])
def test_commands_outside_a_project_say_how_to_make_one(tmp_path, command):
    p = stackctl(*command, "--project-dir", tmp_path)
    assert p.returncode == 4
    assert p.stderr.strip() == (f"error: {tmp_path} is not a stackctl project (no docker-compose.yml / marker file); "
                                f"run `stackctl init {tmp_path}` first")


def test_env_uses_the_projects_port_per_context(tmp_path):
    d = new_project(tmp_path / "envproj", "envproj")
    set_env(d, {"OTLP_GRPC_PORT": 24317})
    host = stackctl("env", "--project-dir", d, "--lang", "python", check=True).stdout
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:24317\n" in host
    assert "opentelemetry-instrument python app.py" in host
    ext = stackctl("env", "--project-dir", d, "--context", "external", "--lang", "java", check=True).stdout
    assert 'OTEL_EXPORTER_OTLP_ENDPOINT: "http://host.docker.internal:24317"' in ext
    assert '- "host.docker.internal:host-gateway"' in ext and "-javaagent:" in ext
    comp = stackctl("env", "--project-dir", d, "--context", "compose", check=True).stdout
    assert 'OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4317"' in comp
    bad = stackctl("env", "--lang", "cobol")
    assert bad.returncode == 2 and "possible values: python, java, node, go, dotnet, rust" in bad.stderr


def test_compose_1_29_accepts_the_project_files(tmp_path):
    d = new_project(tmp_path / "cfg", "cfg")
    p = compose_cli("config", "-q", cwd=d, env=image_env())
    assert p.returncode == 0, p.stderr
    resolved = compose_cli("config", cwd=d, env=image_env()).stdout
    for key, image in TEST_IMAGES.items():
        assert f"image: {image}" in resolved, f"{key} override not applied"
