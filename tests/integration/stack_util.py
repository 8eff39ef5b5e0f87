"""Shared helpers for the stack tests that run a real Docker engine
(test_stack_engine.py; STACK's tests may use them too).

- `STACKCTL`, `stackctl(*args, env=...)`: runs the built stackctl binary.
- `TEST_IMAGES`: the local images scripts/docker-setup.sh builds (no registry
  here); `image_env()` maps the compose file's *_IMAGE keys to them, so the
  same compose file runs on them as on the pinned upstream images.
- `ensure_collector_image()`: `stackctl image build --base <imported base>`
  from the freshly built collector binary (once per run).
- `write_minimal_project(dir, name)`: a collector + prometheus + mariadb
  stackctl project that follows the issue-6 contract (service names, .env
  keys, image variables, mount paths, healthchecks). It stands in for
  `stackctl init DIR --without tempo,jaeger,grafana` until that is merged;
  `new_project()` is the one place to switch.
- `set_env(dir, values)`: rewrites keys in a project's .env (ports per test).
- `docker_api(path)`: GETs the engine API over its unix socket (what is left
  after `down`), independent of stackctl.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTOR_BIN = Path(os.environ.get("OTELSTACK_COLLECTOR") or REPO_ROOT / "target/debug/otelstack-collector")
STACKCTL = COLLECTOR_BIN.parent / "stackctl"

BASE_IMAGE = "otelstack-test/base:bookworm"
COLLECTOR_TEST_IMAGE = "otelstack-test/collector:local"
TEST_IMAGES = {
    "COLLECTOR_IMAGE": COLLECTOR_TEST_IMAGE,
    "PROMETHEUS_IMAGE": "otelstack-test/prometheus:local",
    "MARIADB_IMAGE": "otelstack-test/mariadb:local",
}
SENDER_IMAGE = "otelstack-test/sender:local"

# The stack's host ports (.env keys of the contract) that a test moves to free ports.
PORT_KEYS = ("OTLP_GRPC_PORT", "OTLP_HTTP_PORT", "PROMETHEUS_PORT", "MARIADB_PORT",
             "COLLECTOR_METRICS_PORT", "COLLECTOR_PROM_PORT", "COLLECTOR_HEALTH_PORT")


def stackctl(*args, env: dict | None = None, timeout: float = 600, check: bool = False,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    p = subprocess.run([str(STACKCTL), *map(str, args)], env=full_env, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"stackctl {' '.join(map(str, args))} exited {p.returncode}\n"
                             f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def image_env() -> dict:
    return dict(TEST_IMAGES)


_collector_image_built = False


def ensure_collector_image() -> None:
    """The collector image from the binary under test, on the imported Debian base."""
    global _collector_image_built
    if not _collector_image_built:
        stackctl("image", "build", "--base", BASE_IMAGE, "--tag", COLLECTOR_TEST_IMAGE,
                 "--binary", COLLECTOR_BIN, check=True)
        _collector_image_built = True


def new_project(directory: Path, name: str) -> Path:
    """The project under test. Once STACK's `stackctl init` is merged, replace
    the next line with:
        stackctl("init", directory, "--name", name, "--without", "tempo,jaeger,grafana", check=True)
    """
    write_minimal_project(directory, name)
    return directory


def set_env(directory: Path, values: dict) -> None:
    """Sets keys in DIR/.env, keeping the other lines (and their order)."""
    path = directory / ".env"
    lines = path.read_text().splitlines() if path.exists() else []
    left = dict(values)
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key in left:
            out.append(f"{key}={left.pop(key)}")
        else:
            out.append(line)
    out += [f"{k}={v}" for k, v in left.items()]
    path.write_text("\n".join(out) + "\n")


def read_env(directory: Path) -> dict:
    env = {}
    for line in (directory / ".env").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


COMPOSE = """\
# collector + prometheus + mariadb, as `stackctl init --without tempo,jaeger,grafana`
# renders it under the issue-6 contract (test fixture until init is merged).
services:
  collector:
    image: ${COLLECTOR_IMAGE:-otelstack/collector:0.1.0}
    command: ["--config", "/etc/otelstack/config.yaml"]
    volumes:
      - ./otelcol/config.yaml:/etc/otelstack/config.yaml:ro
    environment:
      MARIADB_USER: ${MARIADB_USER:-otelstack}
      MARIADB_PASSWORD: ${MARIADB_PASSWORD}
    ports:
      - "0.0.0.0:${OTLP_GRPC_PORT:-4317}:4317"
      - "0.0.0.0:${OTLP_HTTP_PORT:-4318}:4318"
      - "127.0.0.1:${COLLECTOR_METRICS_PORT:-8888}:8888"
      - "127.0.0.1:${COLLECTOR_PROM_PORT:-8889}:8889"
      - "127.0.0.1:${COLLECTOR_HEALTH_PORT:-13133}:13133"
    extra_hosts:
      - "host.docker.internal:host-gateway"
    healthcheck:
      test: ["CMD", "/usr/local/bin/otelstack-collector", "healthcheck"]
      interval: 2s
      timeout: 3s
      retries: 30
    depends_on:
      prometheus:
        condition: service_healthy
      mariadb:
        condition: service_healthy
    mem_limit: 512m
    logging:
      driver: json-file
      options: {max-size: "10m", max-file: "3"}
  prometheus:
    image: ${PROMETHEUS_IMAGE:-prom/prometheus:v3.5.0}
    command:
      - --config.file=/etc/prometheus/prometheus.yml
      - --storage.tsdb.path=/prometheus
      - --web.enable-remote-write-receiver
      - --enable-feature=exemplar-storage
    volumes:
      - ./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro
      - prometheus-data:/prometheus
    ports:
      - "127.0.0.1:${PROMETHEUS_PORT:-9090}:9090"
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1:9090/-/ready"]
      interval: 2s
      timeout: 3s
      retries: 30
    mem_limit: 512m
  mariadb:
    image: ${MARIADB_IMAGE:-mariadb:11.8}
    environment:
      MARIADB_ROOT_PASSWORD: ${MARIADB_ROOT_PASSWORD}
      MARIADB_DATABASE: ${MARIADB_DATABASE:-otelstack}
      MARIADB_USER: ${MARIADB_USER:-otelstack}
      MARIADB_PASSWORD: ${MARIADB_PASSWORD}
    volumes:
      - mariadb-data:/var/lib/mysql
    ports:
      - "127.0.0.1:${MARIADB_PORT:-3306}:3306"
    healthcheck:
      test: ["CMD", "healthcheck.sh", "--connect", "--innodb_initialized"]
      interval: 2s
      timeout: 5s
      retries: 60
    mem_limit: 512m
volumes:
  prometheus-data:
  mariadb-data:
"""

# The contract's collector config, less what this branch cannot run yet:
# when the spanmetrics connector and the mysql exporter are merged, add
#   connectors:   spanmetrics: {}
#   exporters:    mysql: {endpoint: "mysql://${env:MARIADB_USER}:${env:MARIADB_PASSWORD}@mariadb:3306/otelstack",
#                         traces: {mode: errors}, logs: {min_severity: ERROR}}
#   pipelines:    traces.exporters += [spanmetrics, mysql]; logs.exporters += [mysql];
#                 metrics.receivers += [spanmetrics]
# (stackctl init's config has them; test_stack_engine.py then asserts on both).
COLLECTOR_CONFIG = """\
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_mib: 400
  batch:
    timeout: 200ms
  resource:
    attributes:
      - key: deployment.environment
        value: stack-test
        action: upsert
exporters:
  debug:
    verbosity: detailed
  prometheus:
    endpoint: 0.0.0.0:8889
  prometheusremotewrite:
    endpoint: http://prometheus:9090/api/v1/write
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 0.0.0.0:8888
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch, resource]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch, resource]
      exporters: [prometheus, prometheusremotewrite]
    logs:
      receivers: [otlp]
      processors: [memory_limiter, batch, resource]
      exporters: [debug]
"""

# Valid for Prometheus 3.x (the pinned image) and 2.42 (the test image).
PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: otelstack-collector-exporter
    honor_labels: true
    static_configs:
      - targets: ["collector:8889"]
  - job_name: otelstack-collector-self
    static_configs:
      - targets: ["collector:8888"]
"""


def write_minimal_project(directory: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "otelcol").mkdir(exist_ok=True)
    (directory / "prometheus").mkdir(exist_ok=True)
    (directory / "docker-compose.yml").write_text(COMPOSE)
    (directory / "otelcol" / "config.yaml").write_text(COLLECTOR_CONFIG)
    (directory / "prometheus" / "prometheus.yml").write_text(PROMETHEUS_CONFIG)
    (directory / "stackctl.toml").write_text(
        f'# stackctl project (test fixture)\nproject_name = "{name}"\nservices = ["collector", "prometheus", "mariadb"]\n')
    (directory / ".env").write_text(
        f"COMPOSE_PROJECT_NAME={name}\n"
        "COLLECTOR_IMAGE=otelstack/collector:0.1.0\n"
        "PROMETHEUS_IMAGE=prom/prometheus:v3.5.0\n"
        "MARIADB_IMAGE=mariadb:11.8\n"
        "MARIADB_ROOT_PASSWORD=root-" + os.urandom(6).hex() + "\n"
        "MARIADB_DATABASE=otelstack\nMARIADB_USER=otelstack\n"
        "MARIADB_PASSWORD=pw-" + os.urandom(6).hex() + "\n"
        "OTLP_GRPC_PORT=4317\nOTLP_HTTP_PORT=4318\nPROMETHEUS_PORT=9090\nMARIADB_PORT=3306\n"
        "COLLECTOR_METRICS_PORT=8888\nCOLLECTOR_PROM_PORT=8889\nCOLLECTOR_HEALTH_PORT=13133\n")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def docker_api(path: str, **query):
    """GET on the engine API (unix socket of DOCKER_HOST or the default)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    conn = _UnixHTTPConnection(host.removeprefix("unix://"))
    qs = ("?" + urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, dict) else v for k, v in query.items()})
          if query else "")
    conn.request("GET", path + qs)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, f"GET {path}: {resp.status} {body[:300]!r}"
    return json.loads(body)


def project_leftovers(name: str) -> dict:
    """Containers, networks and volumes the engine still has for a compose project."""
    label = {"label": [f"com.docker.compose.project={name}"]}
    return {
        "containers": [c["Names"][0] for c in docker_api("/containers/json", all="true", filters=label)],
        "networks": [n["Name"] for n in docker_api("/networks", filters=label)],
        "volumes": [v["Name"] for v in (docker_api("/volumes", filters=label).get("Volumes") or [])],
    }
