"""The prometheus exporter against a real Prometheus (Debian's 2.42).

The Python SDK sends a counter, an up-down counter, a histogram and an
observable gauge through `otlp receiver -> prometheus exporter`; a real
Prometheus scrapes the exporter every second, and PromQL through its HTTP API
must return exactly the expected series, labels and values. `promtool check
metrics` must be clean on the exporter's output.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conftest import config_yaml, free_port, pipeline
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

pytestmark = [pytest.mark.prometheus]


class Prometheus:
    def __init__(self, workdir: Path, target: str, features: tuple[str, ...] = ("exemplar-storage",)):
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: otelstack\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
             f"--enable-feature={','.join(features)}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus did not become ready")

    def query(self, promql: str) -> list:
        r = requests.get(f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": promql}, timeout=5)
        r.raise_for_status()
        return r.json()["data"]["result"]

    def wait_query(self, promql: str, want: int = 1, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        result = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if len(result) >= want:
                return result
            time.sleep(0.5)
        raise AssertionError(f"{promql}: {len(result)} series after {timeout}s: {result}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


@pytest.fixture
def pipeline_with_prometheus(collector, ports, tmp_path):
    prom_port = free_port()
    cfg = config_yaml(ports, exporters={"prometheus": {"endpoint": f"127.0.0.1:{prom_port}", "const_labels": {"env": "it"}}},
                      pipelines={"metrics": pipeline(["prometheus"])})
    c = collector(cfg)
    server = Prometheus(tmp_path / "prom", f"127.0.0.1:{prom_port}")
    yield c, prom_port, server
    server.stop()


def send_metrics(grpc_port: int):
    resource = Resource.create({"service.name": "shop-api", "service.namespace": "shop", "service.instance.id": "i-1",
                                "deployment.environment": "test"})
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True),
                                           export_interval_millis=60_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    meter = provider.get_meter("it.meter")
    requests_counter = meter.create_counter("http.server.requests", unit="{request}", description="Requests served")
    requests_counter.add(3, {"http.route": "/cart", "http.method": "GET"})
    requests_counter.add(2, {"http.route": "/pay", "http.method": "POST"})
    inflight = meter.create_up_down_counter("http.server.active_requests", unit="{request}")
    inflight.add(5)
    inflight.add(-2)
    duration = meter.create_histogram("http.server.request.duration", unit="s",
                                      explicit_bucket_boundaries_advisory=[0.005, 0.025, 0.5, 1.0])
    for v in (0.004, 0.02, 0.02, 0.3, 2.0):
        duration.record(v, {"http.route": "/cart"})
    meter.create_observable_gauge("process.memory.usage", unit="By", callbacks=[lambda _: [Observation(4096)]])
    provider.force_flush()
    provider.shutdown()


def test_prometheus_scrapes_translated_series(pipeline_with_prometheus, ports):
    _, prom_port, prometheus = pipeline_with_prometheus
    send_metrics(ports.grpc)
    got = prometheus.wait_query('http_server_requests_total{job="shop/shop-api"}', want=2)
    by_route = {s["metric"]["http_route"]: s for s in got}
    assert float(by_route["/cart"]["value"][1]) == 3
    assert float(by_route["/pay"]["value"][1]) == 2
    labels = by_route["/pay"]["metric"]
    assert labels["instance"] == "i-1" and labels["env"] == "it" and labels["http_method"] == "POST"
    assert float(prometheus.wait_query("http_server_active_requests")[0]["value"][1]) == 3
    assert float(prometheus.wait_query("process_memory_usage_bytes")[0]["value"][1]) == 4096
    count = prometheus.wait_query('http_server_request_duration_seconds_count{http_route="/cart"}')
    assert float(count[0]["value"][1]) == 5
    total = prometheus.wait_query('http_server_request_duration_seconds_sum{http_route="/cart"}')
    assert float(total[0]["value"][1]) == pytest.approx(2.344)
    le_0_025 = prometheus.wait_query('http_server_request_duration_seconds_bucket{http_route="/cart",le="0.025"}')
    assert float(le_0_025[0]["value"][1]) == 3, "0.004 and the two 0.02 are at most 0.025"
    le_1 = prometheus.wait_query('http_server_request_duration_seconds_bucket{http_route="/cart",le="1"}')
    assert float(le_1[0]["value"][1]) == 4, "2.0 is above the last bound"
    info = prometheus.wait_query('target_info{job="shop/shop-api"}')
    assert info[0]["metric"]["deployment_environment"] == "test"


def test_promtool_accepts_the_exposition(pipeline_with_prometheus, ports, tmp_path):
    _, prom_port, _ = pipeline_with_prometheus
    send_metrics(ports.grpc)
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline and "http_server_requests_total" not in text:
        text = requests.get(f"http://127.0.0.1:{prom_port}/metrics", timeout=5).text
        time.sleep(0.2)
    assert "http_server_requests_total" in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package"
    out = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()


def test_remote_write_into_prometheus(collector, ports, tmp_path):
    """Seed 003's shape: prometheusremotewrite with external_labels from the environment."""
    server = Prometheus(tmp_path / "prom-rw", "127.0.0.1:9")  # scrapes nothing useful; receives remote write
    try:
        exporter = {"endpoint": f"http://127.0.0.1:{server.port}/api/v1/write",
                    "external_labels": {"collector_label": "${env:MY_POD_IP}"},
                    "retry_on_failure": {"initial_interval": "100ms"}}
        cfg = config_yaml(ports, exporters={"prometheusremotewrite": exporter},
                          pipelines={"metrics": pipeline(["prometheusremotewrite"])})
        collector(cfg, env={"MY_POD_IP": "10.1.2.3"})
        send_metrics(ports.grpc)
        got = server.wait_query('http_server_requests_total{collector_label="10.1.2.3"}', want=2)
        by_route = {s["metric"]["http_route"]: float(s["value"][1]) for s in got}
        assert by_route == {"/cart": 3.0, "/pay": 2.0}
        assert got[0]["metric"]["job"] == "shop/shop-api"
        count = server.wait_query('http_server_request_duration_seconds_count{http_route="/cart"}')
        assert float(count[0]["value"][1]) == 5
        le_1 = server.wait_query('http_server_request_duration_seconds_bucket{http_route="/cart",le="1"}')
        assert float(le_1[0]["value"][1]) == 4
        assert float(server.wait_query("process_memory_usage_bytes")[0]["value"][1]) == 4096
    finally:
        server.stop()
