"""examples/kubernetes without a cluster: the plain manifests and custom
resources validate (built-in kinds strictly against Kubernetes 1.25 and 1.37,
CRDs by their required fields), every collector config they carry passes
`otelstack-collector validate`, and the OpenTelemetry Operator's way of
starting a collector, reproduced from its source, starts the real binary,
which becomes healthy on the probe the Operator would give it and carries a
span through."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import COLLECTOR_BIN, REPO_ROOT, free_port
from k8s_util import EXAMPLES, assert_valid_config, dump, k8s_validate, kustomize, load_docs, rewrite_endpoints

pytestmark = pytest.mark.kubernetes

MANIFESTS = [
    EXAMPLES / "000-gateway/argocd-application.yaml",
    EXAMPLES / "001-sidecar/operator-sidecar.yaml",
    EXAMPLES / "002-agent-gateway/opentelemetry-operator-app.yaml",
    EXAMPLES / "002-agent-gateway/instrumentation.yaml",
    EXAMPLES / "002-agent-gateway/operator-gateway.yaml",
]
SIDECAR = EXAMPLES / "001-sidecar"
OPERATOR_CRS = [EXAMPLES / "001-sidecar/operator-sidecar.yaml", EXAMPLES / "002-agent-gateway/operator-gateway.yaml"]
# The required top-level spec fields of each CRD used, from the CRDs' schemas.
CRD_REQUIRED = {
    ("argoproj.io/v1alpha1", "Application"): ["destination", "project", "source"],
    ("opentelemetry.io/v1beta1", "OpenTelemetryCollector"): ["config"],
    ("opentelemetry.io/v1alpha1", "Instrumentation"): [],
}


def docs_of(path: Path) -> list[dict]:
    return load_docs(path.read_text())


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_manifest_is_valid(path):
    docs = docs_of(path)
    k8s_validate(path, docs)
    for d in docs:
        key = (d["apiVersion"], d["kind"])
        if key in CRD_REQUIRED:
            assert d["metadata"]["name"], f"{path.name}: {d['kind']} without a name"
            missing = [f for f in CRD_REQUIRED[key] if f not in d["spec"]]
            assert not missing, f"{path.name}: {d['kind']} lacks spec fields {missing}"


def sidecar_docs(directory: Path = SIDECAR) -> list[dict]:
    return load_docs(kustomize(directory))


def test_sidecar_kustomization_renders_valid_objects(tmp_path):
    text = kustomize(SIDECAR)
    (tmp_path / "sidecar.yaml").write_text(text)
    docs = load_docs(text)
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "Deployment"]
    k8s_validate(tmp_path / "sidecar.yaml", docs)


def embedded_configs(path: Path) -> list[str]:
    out = []
    for d in (sidecar_docs(path) if path.is_dir() else docs_of(path)):
        if d["kind"] == "ConfigMap":
            out += [v for k, v in d["data"].items() if k.endswith(".yaml")]
        elif d["kind"] == "OpenTelemetryCollector":
            out.append(dump(d["spec"]["config"]))
    return out


@pytest.mark.parametrize("path", [SIDECAR] + OPERATOR_CRS,
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_embedded_collector_configs_are_valid(path, tmp_path):
    configs = embedded_configs(path)
    assert configs, f"{path.name} carries no collector config"
    for text in configs:
        assert_valid_config(text, tmp_path)


def test_sidecar_deployment_mounts_the_config_it_names_and_probes_its_health_check():
    docs = sidecar_docs()
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "otel-collector")
    assert sidecar["image"].startswith("otelstack/collector:")
    config_path = Path(sidecar["args"][0].removeprefix("--config="))
    mount = next(m for m in sidecar["volumeMounts"] if Path(m["mountPath"]) == config_path.parent)
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == cm["metadata"]["name"] and config_path.name in cm["data"]
    health = yaml.safe_load(cm["data"][config_path.name])["extensions"]["health_check"]["endpoint"]
    assert sidecar["livenessProbe"]["httpGet"]["port"] == int(health.rsplit(":", 1)[1])
    # The Operator variant: the annotation must be on the pod template.
    app = next(d for d in docs_of(EXAMPLES / "001-sidecar/operator-sidecar.yaml") if d["kind"] == "Deployment")
    assert app["spec"]["template"]["metadata"]["annotations"]["sidecar.opentelemetry.io/inject"] == "true"


def test_a_sidecar_config_change_renames_the_configmap_and_so_rolls_the_pods(tmp_path):
    def names(docs):
        cm = next(d for d in docs if d["kind"] == "ConfigMap")["metadata"]["name"]
        pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
        return cm, pod["volumes"][0]["configMap"]["name"]

    copy = tmp_path / "sidecar"
    shutil.copytree(SIDECAR, copy)
    cm, ref = names(sidecar_docs(copy))
    assert cm == ref and cm.startswith("otel-collector-config-")
    config = copy / "collector-config.yaml"
    config.write_text(config.read_text().replace("send_batch_size: 512", "send_batch_size: 256"))
    cm2, ref2 = names(sidecar_docs(copy))
    assert cm2 == ref2 and cm2 != cm


def test_argocd_application_points_at_the_chart_and_values_in_this_repository():
    app = docs_of(EXAMPLES / "000-gateway/argocd-application.yaml")[0]
    src = app["spec"]["source"]
    chart_dir = REPO_ROOT / src["path"]
    assert (chart_dir / "Chart.yaml").exists()
    for vf in src["helm"]["valueFiles"]:
        assert (chart_dir / vf).resolve().is_file(), vf
    assert app["spec"]["destination"]["namespace"] == "monitoring"
    assert src["helm"]["releaseName"] == "otel-collector"


# ---------------------------------------------------------------------------
# The Operator's container, reproduced from open-telemetry/opentelemetry-operator
# (main as of commit bf9c8207a356d2448163bfd48c6f4347a1586d02, v0.12x):
# - internal/manifests/collector/container.go, Container(): args start with
#   "--config=/conf/" + CollectorConfigMapEntry() ("collector.yaml"), the
#   ConfigMap volume mounted at /conf; then spec.args as "--key=value",
#   sorted, with a "config" key dropped; env: spec.env, POD_NAME from
#   metadata.name, GOMEMLIMIT/GOMAXPROCS from the container's limits
#   (feature gate operator.golang.flags, beta, on by default).
# - pkg/collector/upgrade/v0_104_0.go: upgraded collectors get spec.args
#   feature-gates "-component.UseLocalHostAsDefaultHost", and, with a
#   prometheus receiver, ",-confmap.unifyEnvVarExpansion".
# - pkg/collector/upgrade/v0_111_0.go: service.telemetry.metrics.address is
#   set to the metrics endpoint (0.0.0.0:8888) when absent.
# - internal/manifests/collector/adapters/config_to_probe.go: liveness and
#   readiness are HTTP GETs on the health_check extension's port (13133 by
#   default) at its `path` ("/" by default).
# ---------------------------------------------------------------------------

def operator_args(spec: dict, conf: Path) -> list[str]:
    args = dict(spec.get("args") or {})
    args.pop("config", None)
    gates = [g for g in args.get("feature-gates", "").split(",") if g]
    upgrade_gates = ["component.UseLocalHostAsDefaultHost"]
    if any("prometheus" in r for r in spec["config"].get("receivers", {})):
        upgrade_gates.append("confmap.unifyEnvVarExpansion")
    for gate in upgrade_gates:
        if not any(gate in g for g in gates):
            gates.append(f"-{gate}")
    args["feature-gates"] = ",".join(gates)
    return [f"--config={conf}/collector.yaml", *sorted(f"--{k}={v}" for k, v in args.items())]


def operator_config(spec: dict) -> dict:
    cfg = yaml.safe_load(dump(spec["config"]))
    metrics = cfg.setdefault("service", {}).setdefault("telemetry", {}).setdefault("metrics", {})
    metrics.setdefault("address", "0.0.0.0:8888")
    return cfg


def probe_of(cfg: dict) -> tuple[int, str]:
    name = next(e for e in cfg["service"]["extensions"] if e.startswith("health_check"))
    ext = cfg["extensions"][name] or {}
    port = int(ext["endpoint"].split(":")[1]) if "endpoint" in ext else 13133
    return port, ext.get("path", "/")


def limits_env(spec: dict) -> dict:
    mem = (spec.get("resources") or {}).get("limits", {}).get("memory", "512Mi")
    units = {"Mi": 2**20, "Gi": 2**30}
    return {"GOMEMLIMIT": str(int(mem[:-2]) * units[mem[-2:]]), "GOMAXPROCS": "1"}


# spec.args a user may add: otelcol gates otelstack does not have, and the
# Operator's own `config` key, which it drops.
USER_ARGS = [None, {"feature-gates": "+telemetry.newPipelineTelemetry", "config": "/ignored.yaml"}]


@pytest.mark.parametrize("user_args", USER_ARGS, ids=["operator-args", "with-spec-args"])
@pytest.mark.parametrize("path", OPERATOR_CRS, ids=lambda p: p.name)
def test_the_operators_container_runs_the_image(path, user_args, grpc_sink, tmp_path):
    cr = next(d for d in docs_of(path) if d["kind"] == "OpenTelemetryCollector")
    spec = dict(cr["spec"], args=user_args) if user_args else cr["spec"]
    assert spec["image"].startswith("otelstack/collector:")
    cfg = operator_config(spec)
    health_port, health_path = probe_of(cfg)
    ports = {p: free_port() for p in (4317, 4318, 8888, health_port)}
    conf = tmp_path / "conf"  # stands for the ConfigMap volume at /conf
    conf.mkdir()
    (conf / "collector.yaml").write_text(dump(rewrite_endpoints(cfg, ports, grpc_sink.endpoint)))
    conf.chmod(0o555)
    args = operator_args(spec, conf)
    assert args[0] == f"--config={conf}/collector.yaml"
    gates = ["+telemetry.newPipelineTelemetry"] if user_args else []
    gates.append("-component.UseLocalHostAsDefaultHost")
    assert args[1:] == [f"--feature-gates={','.join(gates)}"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "POD_NAME": f"{cr['metadata']['name']}-collector-7d9f",
           **{e["name"]: e["value"] for e in spec.get("env") or []}, **limits_env(spec)}
    err = (tmp_path / "stderr").open("wb")
    proc = subprocess.Popen([str(COLLECTOR_BIN), *args], stdout=subprocess.DEVNULL, stderr=err, env=env,
                            start_new_session=True)
    try:
        url = f"http://127.0.0.1:{ports[health_port]}{health_path}"
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, f"exited {proc.returncode}:\n{(tmp_path / 'stderr').read_text()}"
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"not healthy at {url}:\n{(tmp_path / 'stderr').read_text()}"
            time.sleep(0.1)
        trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
        body = {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "operator-test"}}]},
            "scopeSpans": [{"spans": [{"traceId": trace_id, "spanId": span_id, "name": "through the operator's args",
                                       "kind": 2, "startTimeUnixNano": "1700000000000000000",
                                       "endTimeUnixNano": "1700000000001000000"}]}]}]}
        r = requests.post(f"http://127.0.0.1:{ports[4318]}/v1/traces", json=body, timeout=5)
        assert r.status_code == 200, r.text
        reqs = grpc_sink.wait_for("traces", 1)
        spans = [sp for q in reqs for rs in q.resource_spans for ss in rs.scope_spans for sp in ss.spans]
        assert [(s.trace_id.hex(), s.span_id.hex(), s.name) for s in spans] == \
            [(trace_id, span_id, "through the operator's args")]
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(25)
        err.close()
    stderr = (tmp_path / "stderr").read_text()
    assert rc == 0, stderr
    for gate in (g[1:] for g in gates):
        assert re.search(rf'WARN.*feature gate \\?"{re.escape(gate)}\\?" is not known', stderr), stderr
