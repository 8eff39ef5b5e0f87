"""Shared helpers for the stack tests that run a real Docker engine
(test_stack_engine.py; STACK's tests may use them too).

- `STACKCTL`, `stackctl(*args, env=...)`: runs the built stackctl binary.
- `TEST_IMAGES`: the local images scripts/docker-setup.sh builds (no registry
  here); `image_env()` maps the compose file's *_IMAGE keys to them, so the
  same compose file runs on them as on the pinned upstream images.
- `ensure_collector_image()`: `stackctl image build --base <imported base>`
  from the freshly built collector binary (once per run).
- `new_project(dir, name)`: `stackctl init DIR --without tempo,jaeger,grafana`,
  the collector + prometheus + mariadb selection (Grafana, Tempo and Jaeger
  images cannot be had here).
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
    """The project under test, as a user gets it from `stackctl init`."""
    stackctl("init", directory, "--name", name, "--without", "tempo,jaeger,grafana", check=True)
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
