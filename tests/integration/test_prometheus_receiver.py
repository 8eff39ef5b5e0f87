"""The prometheus receiver scraping a fixture app and a real Prometheus.

Metrics scraped from a fixture exposition (counter, gauge, histogram,
summary, labels with escapes) must arrive downstream as OTLP with the right
types, names, values, start times and resource (service.name = job,
service.instance.id = instance); `up` is 1 for a live target and 0 for a dead
one. Scraping a real Prometheus's own /metrics yields its well-known series.
"""

from __future__ import annotations

import http.server
import threading

import pytest
from conftest import config_yaml, free_port, otlp_exporter, pipeline
from test_prometheus_exporter import Prometheus

pytestmark = [pytest.mark.prometheus]

EXPOSITION = b"""# HELP shop_orders_total Orders placed.
# TYPE shop_orders_total counter
shop_orders_total{status="ok"} 42
shop_orders_total{status="failed",note="say \\"hi\\""} 3
# TYPE shop_queue_depth gauge
shop_queue_depth 7
# TYPE shop_latency_seconds histogram
shop_latency_seconds_bucket{le="0.1"} 5
shop_latency_seconds_bucket{le="1"} 8
shop_latency_seconds_bucket{le="+Inf"} 9
shop_latency_seconds_sum 4.5
shop_latency_seconds_count 9
# TYPE shop_rpc_seconds summary
shop_rpc_seconds{quantile="0.5"} 0.2
shop_rpc_seconds{quantile="0.99"} 0.9
shop_rpc_seconds_sum 12
shop_rpc_seconds_count 40
"""


@pytest.fixture
def fixture_app():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/metrics" else 404)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(EXPOSITION)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def scrape_config(job, targets, **extra):
    return {"job_name": job, "scrape_interval": "1s", "static_configs": [{"targets": targets, "labels": {"team": "web"}}], **extra}


def metrics_by_name(requests, job):
    """The latest metric of each name scraped for `job`, with its resource attributes."""
    out = {}
    for rm in [rm for req in requests for rm in req.resource_metrics]:
        attrs = {a.key: a.value.string_value for a in rm.resource.attributes}
        if attrs.get("service.name") != job:
            continue
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = (m, attrs)
    return out


def test_scrapes_a_fixture_app(collector, ports, grpc_sink, fixture_app):
    dead = free_port()
    receivers = {"prometheus": {"config": {"scrape_configs": [
        scrape_config("shop", [f"127.0.0.1:{fixture_app}"]),
        scrape_config("gone", [f"127.0.0.1:{dead}"]),
    ]}}}
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, extra_receivers=receivers,
                      pipelines={"metrics": pipeline(["otlp"], receivers=["prometheus"])})
    collector(cfg)
    grpc_sink.wait_for("metrics", lambda reqs: "shop_orders" in metrics_by_name(reqs, "shop")
                       and "up" in metrics_by_name(reqs, "gone"), timeout=15)
    got = metrics_by_name(grpc_sink.requests("metrics"), "shop")
    orders, resource = got["shop_orders"]
    assert resource["service.instance.id"] == f"127.0.0.1:{fixture_app}"
    assert orders.sum.is_monotonic and orders.sum.aggregation_temporality == 2
    points = {tuple(sorted((a.key, a.value.string_value) for a in p.attributes)): p for p in orders.sum.data_points}
    ok = points[(("status", "ok"), ("team", "web"))]
    assert ok.as_double == 42 and 0 < ok.start_time_unix_nano <= ok.time_unix_nano
    assert points[(("note", 'say "hi"'), ("status", "failed"), ("team", "web"))].as_double == 3
    assert got["shop_queue_depth"][0].gauge.data_points[0].as_double == 7
    hist = got["shop_latency_seconds"][0].histogram.data_points[0]
    assert list(hist.explicit_bounds) == [0.1, 1.0]
    assert list(hist.bucket_counts) == [5, 3, 1]
    assert (hist.count, hist.sum) == (9, 4.5)
    summary = got["shop_rpc_seconds"][0].summary.data_points[0]
    assert [(q.quantile, q.value) for q in summary.quantile_values] == [(0.5, 0.2), (0.99, 0.9)]
    assert (summary.count, summary.sum) == (40, 12)
    assert got["up"][0].gauge.data_points[0].as_double == 1
    assert metrics_by_name(grpc_sink.requests("metrics"), "gone")["up"][0].gauge.data_points[0].as_double == 0


def test_scrapes_a_real_prometheus(collector, ports, grpc_sink, tmp_path):
    server = Prometheus(tmp_path / "prom", "127.0.0.1:9")
    try:
        receivers = {"prometheus": {"config": {"scrape_configs": [scrape_config("prom", [f"127.0.0.1:{server.port}"])]}}}
        cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)}, extra_receivers=receivers,
                          pipelines={"metrics": pipeline(["otlp"], receivers=["prometheus"])})
        collector(cfg)
        grpc_sink.wait_for("metrics", lambda reqs: "prometheus_build_info" in metrics_by_name(reqs, "prom"), timeout=15)
        got = metrics_by_name(grpc_sink.requests("metrics"), "prom")
        build = got["prometheus_build_info"][0].gauge.data_points[0]
        assert build.as_double == 1
        assert any(a.key == "version" and a.value.string_value.startswith("2.") for a in build.attributes)
        http_requests = got["prometheus_http_requests"][0]
        assert http_requests.sum.is_monotonic, "counter prometheus_http_requests_total arrives as a monotonic sum"
        assert got["prometheus_http_request_duration_seconds"][0].histogram.data_points
        assert got["up"][0].gauge.data_points[0].as_double == 1
    finally:
        server.stop()
