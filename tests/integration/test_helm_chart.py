"""The Helm chart deploy/helm/otelstack-collector, without a cluster: `helm
lint` and `helm template` of every mode and every example values file, each
rendered object validated strictly against Kubernetes 1.25 and 1.37, each
rendered collector config accepted by `otelstack-collector validate`, and
assertions on what was rendered. The `helm test` hook's script runs here
against the real collector started on the chart's default config."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from k8s_util import (CHART, EXAMPLES, assert_valid_config, cargo_version, collector_validate, configmap_config,
                      dump, helm, k8s_validate, kinds, one, render, render_text, rewrite_endpoints)
from conftest import COLLECTOR_BIN, free_port

pytestmark = pytest.mark.kubernetes

E002 = EXAMPLES / "002-agent-gateway"
# (id, values files, --set values)
CASES = [
    ("deployment", [], []),
    ("daemonset", [], ["mode=daemonset"]),
    ("statefulset", [], ["mode=statefulset"]),
    ("everything-on", [], ["serviceMonitor.enabled=true", "podMonitor.enabled=true", "autoscaling.enabled=true",
                           "autoscaling.targetMemoryUtilizationPercentage=80", "podDisruptionBudget.enabled=true"]),
    ("000-gateway", [EXAMPLES / "000-gateway/values.yaml"], []),
    ("002-agent", [E002 / "agent-values.yaml"], []),
    ("002-gateway", [E002 / "gateway-values.yaml"], []),
    ("002-gateway-statefulset", [E002 / "gateway-values.yaml"], ["mode=statefulset"]),
]
LOADBALANCING = ("002-agent-loadbalancing", [E002 / "agent-values.yaml", E002 / "agent-loadbalancing-values.yaml"], [])


def container(docs, kind="Deployment"):
    return one(docs, kind)["spec"]["template"]["spec"]["containers"][0]


def test_app_version_is_the_crate_version_and_the_default_image_uses_it():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == cargo_version()
    assert container(render())["image"] == f"otelstack/collector:{cargo_version()}"


@pytest.mark.parametrize("case", CASES + [LOADBALANCING], ids=lambda c: c[0])
def test_lint(case):
    _, values, sets = case
    cmd = ["lint", CHART, "--strict"]
    for v in values:
        cmd += ["-f", v]
    for s in sets:
        cmd += ["--set", s]
    r = helm(*cmd)
    assert r.returncode == 0 and "1 chart(s) linted, 0 chart(s) failed" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("case", CASES + [LOADBALANCING], ids=lambda c: c[0])
def test_rendered_objects_are_valid_kubernetes(case, tmp_path):
    _, values, sets = case
    text = render_text(values, sets)
    (tmp_path / "rendered.yaml").write_text(text)
    k8s_validate(tmp_path / "rendered.yaml", [d for d in yaml.safe_load_all(text) if d])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_rendered_collector_config_is_valid(case, tmp_path):
    _, values, sets = case
    assert_valid_config(configmap_config(render(values, sets)), tmp_path, env={"K8S_NODE_NAME": "node-1"})


def test_loadbalancing_agent_config_is_valid_once_the_exporter_exists(tmp_path):
    # The loadbalancing exporter lands separately; until then the only
    # complaint about this example must be that exporter's type.
    config = configmap_config(render(LOADBALANCING[1]))
    components = subprocess.run([str(COLLECTOR_BIN), "components"], capture_output=True, text=True).stdout
    has_lb = re.search(r"^exporter\s+loadbalancing\s", components, re.M) is not None
    r = collector_validate(config, tmp_path, env={"K8S_NODE_NAME": "node-1"})
    if has_lb:
        assert r.returncode == 0, r.stderr
    else:
        errors = [line for line in r.stderr.splitlines() if line.startswith("  ")]
        assert r.returncode == 1 and errors and all("loadbalancing" in e for e in errors), r.stderr


def test_default_gateway_ports_probes_env_and_security():
    docs = render()
    assert kinds(docs) == ["ConfigMap", "Deployment", "Pod", "Service", "ServiceAccount"]
    svc = one(docs, "Service")
    assert {p["name"]: p["port"] for p in svc["spec"]["ports"]} == {
        "otlp": 4317, "otlp-http": 4318, "metrics": 8888, "prometheus": 8889, "health": 13133}
    c = container(docs)
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {
        "otlp": 4317, "otlp-http": 4318, "metrics": 8888, "prometheus": 8889, "health": 13133}
    assert all("hostPort" not in p for p in c["ports"])
    for probe in ("livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"port": 13133, "path": "/"}
    # The probes point at the config's health_check extension.
    config = yaml.safe_load(configmap_config(docs))
    assert config["extensions"]["health_check"]["endpoint"].endswith(":13133")
    assert config["service"]["telemetry"]["metrics"]["address"].endswith(":8888")
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c["env"]}
    assert env["K8S_NODE_NAME"] == "spec.nodeName" and env["K8S_POD_IP"] == "status.podIP"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsNonRoot"] is True
    assert c["args"] == ["--config=/conf/config.yaml"]
    assert c["volumeMounts"][0]["mountPath"] == "/conf"
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["volumes"][0]["configMap"]["name"] == one(docs, "ConfigMap")["metadata"]["name"]
    # The collector drains for up to 20 s after SIGTERM (src/cli/collector.rs).
    assert pod["terminationGracePeriodSeconds"] > 20
    assert svc["spec"]["selector"].items() <= one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()


def test_extra_envs_follow_the_downward_api_ones():
    c = container(render(sets=["extraEnvs[0].name=CLUSTER", "extraEnvs[0].value=prod"]))
    names = [e["name"] for e in c["env"]]
    assert names == ["K8S_NODE_NAME", "K8S_POD_NAME", "K8S_POD_IP", "K8S_NAMESPACE", "CLUSTER"]


def test_user_config_is_merged_over_the_mode_default():
    docs = render(sets=["config.processors.batch.timeout=2s", "config.exporters.otlp/tempo.endpoint=tempo.obs:4317"])
    config = yaml.safe_load(configmap_config(docs))
    assert config["processors"]["batch"] == {"timeout": "2s"}
    assert config["exporters"]["otlp/tempo"] == {"endpoint": "tempo.obs:4317", "tls": {"insecure": True}}
    assert config["processors"]["memory_limiter"]["limit_percentage"] == 80  # untouched default
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp/tempo", "spanmetrics"]


def checksum(docs, kind="Deployment"):
    return one(docs, kind)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_checksum_annotation_changes_with_the_config_only():
    base = checksum(render())
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum(render()) == base
    assert checksum(render(sets=["replicaCount=3"])) == base
    assert checksum(render(sets=["config.processors.batch.timeout=2s"])) != base


def test_daemonset_agent_has_host_ports_and_forwards_to_the_gateway_service():
    docs = render(sets=["mode=daemonset"])
    assert "Deployment" not in kinds(docs)
    # One pod per node: an HPA has nothing to scale.
    assert "HorizontalPodAutoscaler" not in kinds(render(sets=["mode=daemonset", "autoscaling.enabled=true"]))
    c = container(docs, "DaemonSet")
    host = {p["name"]: p.get("hostPort") for p in c["ports"]}
    assert host["otlp"] == 4317 and host["otlp-http"] == 4318
    config = yaml.safe_load(configmap_config(docs))
    assert config["exporters"]["otlp"]["endpoint"] == "otelstack-collector.monitoring.svc.cluster.local:4317"
    assert config["processors"]["resource/node"]["attributes"][0]["value"] == "${env:K8S_NODE_NAME}"
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline["exporters"] == ["otlp"] and pipeline["processors"][0] == "memory_limiter"


def test_statefulset_has_a_headless_governing_service():
    docs = render(sets=["mode=statefulset"])
    sts = one(docs, "StatefulSet")
    headless = one(docs, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()


def test_service_monitor_selects_the_service_and_its_ports():
    docs = render(sets=["serviceMonitor.enabled=true"])
    sm, svc = one(docs, "ServiceMonitor"), one(docs, "Service")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"]["matchNames"] == [svc["metadata"]["namespace"]]
    port_names = {p["name"] for p in svc["spec"]["ports"]}
    assert [e["port"] for e in sm["spec"]["endpoints"]] == ["metrics", "prometheus"]
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= port_names


def test_hpa_and_pdb_when_enabled():
    assert not {"HorizontalPodAutoscaler", "PodDisruptionBudget"} & set(kinds(render()))
    docs = render(CASES[3][1], CASES[3][2])
    dep, hpa, pdb = one(docs, "Deployment"), one(docs, "HorizontalPodAutoscaler"), one(docs, "PodDisruptionBudget")
    assert "replicas" not in dep["spec"]  # the HPA owns it
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"]}
    assert {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]} == \
        {"cpu": 80, "memory": 80}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pdb["spec"]["maxUnavailable"] == 1
    sts = render(sets=["mode=statefulset", "autoscaling.enabled=true"])
    assert one(sts, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]["kind"] == "StatefulSet"


def test_seed_000_gateway_service_and_service_monitor():
    docs = render([EXAMPLES / "000-gateway/values.yaml"], release="otel-collector")
    svc = one(docs, "Service", "otel-collector")
    assert svc["metadata"]["namespace"] == "monitoring" and svc["spec"]["type"] == "ClusterIP"
    assert sorted(p["port"] for p in svc["spec"]["ports"]) == [4317, 4318, 8889, 13133]
    sm = one(docs, "ServiceMonitor", "otel-collector")
    assert sm["spec"]["endpoints"] == [{"port": "prometheus", "interval": "15s", "scrapeTimeout": "10s"}]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert svc["metadata"]["labels"]["app.kubernetes.io/name"] == "otel-collector"
    c = container(docs)
    assert c["resources"] == {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "1000m", "memory": "1Gi"}}
    config = yaml.safe_load(configmap_config(docs))
    assert config["processors"]["batch"] == {"timeout": "10s", "send_batch_size": 1024}


def test_an_unknown_mode_is_refused_with_the_choices():
    r = helm("template", "x", CHART, "--set", "mode=sidecar")
    assert r.returncode != 0 and "set mode to deployment, daemonset or statefulset" in r.stderr


def test_helm_test_hook_validates_then_sends_a_span(grpc_sink, collector, tmp_path):
    """Runs the hook pod's own script (POSIX sh + curl) against the collector
    started on the chart's default config, its Tempo exporter pointed at a
    real gRPC sink: the span the script sends must arrive there."""
    docs = render()
    pod = one(docs, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    validate = pod["spec"]["initContainers"][0]
    assert validate["image"] == container(docs)["image"] and validate["args"][0] == "validate"
    send = pod["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in send["env"]}
    assert env == {"OTLP_HTTP_URL": "http://otelstack-collector:4318",
                   "METRICS_URL": "http://otelstack-collector:8888/metrics"}

    cfg = yaml.safe_load(configmap_config(docs))
    ports = {p: free_port() for p in (4317, 4318, 8888, 8889, 13133)}
    c = collector(dump(rewrite_endpoints(cfg, ports, grpc_sink.endpoint)))
    run_env = {"PATH": "/usr/bin:/bin", "OTLP_HTTP_URL": f"http://127.0.0.1:{ports[4318]}",
               "METRICS_URL": f"http://127.0.0.1:{ports[8888]}/metrics"}
    r = subprocess.run(send["command"] + send["args"], env=run_env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"hook script failed:\n{r.stdout}{r.stderr}\ncollector:\n{c.stderr()[-2000:]}"
    m = re.search(r"OK: span ([0-9a-f]{32})/([0-9a-f]{16}) accepted", r.stdout)
    assert m, r.stdout
    reqs = grpc_sink.wait_for("traces", lambda reqs: any(
        sp.trace_id.hex() == m.group(1) for req in reqs for rs in req.resource_spans
        for ss in rs.scope_spans for sp in ss.spans))
    spans = [sp for req in reqs for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert [(sp.span_id.hex(), sp.name) for sp in spans] == [(m.group(2), "helm test")]


def test_helm_test_script_fails_when_the_span_is_refused(tmp_path):
    # Nothing listening: the script must say what failed and exit non-zero.
    send = one(render(), "Pod")["spec"]["containers"][0]
    port = free_port()
    run_env = {"PATH": "/usr/bin:/bin", "OTLP_HTTP_URL": f"http://127.0.0.1:{port}",
               "METRICS_URL": f"http://127.0.0.1:{port}/metrics"}
    r = subprocess.run(send["command"] + send["args"], env=run_env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
