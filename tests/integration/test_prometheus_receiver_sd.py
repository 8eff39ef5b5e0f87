"""The prometheus receiver's discovery and relabeling against real targets.

Targets are small HTTP servers serving exposition text and Debian's
prometheus-node-exporter. They are found through a file_sd file the test
rewrites while the collector runs (an added target starts being scraped, a
removed one stops), through `scrape_config_files` matched by a glob, and
shaped by `relabel_configs` (targets dropped and kept by their labels) and
`metric_relabel_configs` (series dropped, labels renamed). What arrives at
the OTLP sink is checked series by series.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time

import pytest
import yaml
from conftest import config_yaml, free_port, otlp_exporter, pipeline, wait_tcp

pytestmark = [pytest.mark.prometheus]

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"


class App:
    """An HTTP target serving `body`, counting the scrapes it answers."""

    def __init__(self, body: str, content_type: str | None = "text/plain; version=0.0.4"):
        self.hits = 0
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                app.hits += 1
                self.send_response(200)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def apps():
    made = []

    def make(body, **kw):
        made.append(App(body, **kw))
        return made[-1]

    yield make
    for a in made:
        a.close()


def series(requests):
    """Every data point received: (service.name, instance, metric, attrs) -> latest point."""
    out = {}
    for rm in [rm for req in requests for rm in req.resource_metrics]:
        res = {a.key: a.value.string_value for a in rm.resource.attributes}
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                points = getattr(m, m.WhichOneof("data")).data_points
                for p in points:
                    attrs = tuple(sorted((a.key, a.value.string_value) for a in p.attributes))
                    out[(res["service.name"], res["service.instance.id"], m.name, attrs)] = p
    return out


def names(requests, job):
    return {k[2] for k in series(requests) if k[0] == job}


def start(collector, ports, grpc_sink, prometheus_config):
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      extra_receivers={"prometheus": {"config": prometheus_config}},
                      pipelines={"metrics": pipeline(["otlp"], receivers=["prometheus"])})
    return collector(cfg)


def test_file_sd_follows_the_file_as_it_changes(collector, ports, grpc_sink, apps, tmp_path):
    a = apps("# TYPE a_requests_total counter\na_requests_total 5\n")
    b = apps("# TYPE b_temperature gauge\nb_temperature 21.5\n")
    sd = tmp_path / "sd"
    sd.mkdir()
    targets = sd / "targets.json"
    targets.write_text(json.dumps([{"targets": [a.address], "labels": {"team": "a"}}]))
    start(collector, ports, grpc_sink, {"scrape_configs": [{
        "job_name": "sd", "scrape_interval": "1s",
        "file_sd_configs": [{"files": [str(sd / "*.json")]}]}]})

    reqs = grpc_sink.wait_for("metrics", lambda r: "a_requests" in names(r, "sd"), timeout=15)
    point = series(reqs)[("sd", a.address, "a_requests", (("team", "a"),))]
    assert point.as_double == 5
    assert "b_temperature" not in names(reqs, "sd")

    # a target added to the file is scraped, with its group's labels
    targets.write_text(json.dumps([{"targets": [a.address], "labels": {"team": "a"}},
                                   {"targets": [b.address], "labels": {"team": "b"}}]))
    reqs = grpc_sink.wait_for("metrics", lambda r: "b_temperature" in names(r, "sd"), timeout=15)
    assert series(reqs)[("sd", b.address, "b_temperature", (("team", "b"),))].as_double == 21.5

    # a target removed from the file stops being scraped: once b has answered
    # three scrapes since the rewrite (the file is polled every second), a
    # answers at most the one scrape then in flight while b answers three more
    targets.write_text(json.dumps([{"targets": [b.address], "labels": {"team": "b"}}]))
    wait_hits(b, b.hits + 3)
    a_hits = a.hits
    wait_hits(b, b.hits + 3)
    assert a.hits <= a_hits + 1, f"a was scraped {a.hits - a_hits} times after it left the file"


def wait_hits(app, want, timeout=20.0):
    deadline = time.monotonic() + timeout
    while app.hits < want:
        assert time.monotonic() < deadline, f"{app.address} was not scraped {want} times"
        time.sleep(0.1)


EXPOSITION = """# TYPE shop_orders_total counter
shop_orders_total{status="ok",job="checkout"} 42
shop_orders_total{status="failed",job="checkout"} 3
# TYPE shop_debug_cache_entries gauge
shop_debug_cache_entries 99
# TYPE shop_queue_depth gauge
shop_queue_depth 7 1600000000000
"""


def test_relabel_and_metric_relabel(collector, ports, grpc_sink, apps, tmp_path):
    keep, skip = apps(EXPOSITION), apps(EXPOSITION)
    sd = tmp_path / "targets.yml"
    sd.write_text(yaml.safe_dump([
        {"targets": [keep.address], "labels": {"role": "shop", "tier": "front"}},
        {"targets": [skip.address], "labels": {"role": "batch", "tier": "back"}},
    ]))
    start(collector, ports, grpc_sink, {"scrape_configs": [{
        "job_name": "shop", "scrape_interval": "1s", "honor_timestamps": False,
        "file_sd_configs": [{"files": [str(sd)], "refresh_interval": "30s"}],
        "relabel_configs": [
            {"source_labels": ["role"], "regex": "shop", "action": "keep"},
            {"source_labels": ["__meta_filepath"], "regex": ".*/(.*)\\.yml", "target_label": "sd_file"},
            {"source_labels": ["tier"], "target_label": "tier", "action": "uppercase"},
        ],
        "metric_relabel_configs": [
            {"source_labels": ["__name__"], "regex": "shop_debug_.*", "action": "drop"},
            {"source_labels": ["status"], "target_label": "outcome"},
            {"regex": "status", "action": "labeldrop"},
        ],
    }]})
    reqs = grpc_sink.wait_for("metrics", lambda r: "shop_orders" in names(r, "shop"), timeout=15)
    got = {k: p for k, p in series(reqs).items() if k[0] == "shop"}
    assert {k[1] for k in got} == {keep.address}, "the target with role=batch is dropped by relabel_configs"
    target = (("role", "shop"), ("sd_file", "targets"), ("tier", "FRONT"))
    # the scraped job clashes with the target's: it becomes exported_job
    ok = tuple(sorted(target + (("exported_job", "checkout"), ("outcome", "ok"))))
    failed = tuple(sorted(target + (("exported_job", "checkout"), ("outcome", "failed"))))
    assert got[("shop", keep.address, "shop_orders", ok)].as_double == 42
    assert got[("shop", keep.address, "shop_orders", failed)].as_double == 3
    depth = got[("shop", keep.address, "shop_queue_depth", target)]
    assert depth.as_double == 7
    assert depth.time_unix_nano > 1600000000000 * 1_000_000, "honor_timestamps: false ignores the exposition's time"
    assert "shop_debug_cache_entries" not in {k[2] for k in got}
    assert skip.hits == 0


def test_scrape_config_files_and_a_real_node_exporter(collector, ports, grpc_sink, apps, tmp_path):
    port = free_port()
    log = open(tmp_path / "node_exporter.log", "wb")
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT)
    blank = apps("# TYPE legacy_up gauge\nlegacy_up 1\n", content_type=None)
    try:
        assert wait_tcp(port, 20, proc), "node exporter did not start"
        jobs = tmp_path / "jobs"
        jobs.mkdir()
        (jobs / "node.yml").write_text(yaml.safe_dump({"scrape_configs": [{
            "job_name": "node", "scrape_interval": "1s",
            "params": {"collect[]": ["loadavg", "uname"]},
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "node_.*", "action": "keep"}],
        }]}))
        (jobs / "legacy.yml").write_text(yaml.safe_dump({"scrape_configs": [
            {"job_name": "legacy", "scrape_interval": "1s", "fallback_scrape_protocol": "PrometheusText0.0.4",
             "static_configs": [{"targets": [blank.address]}]},
            {"job_name": "strict", "scrape_interval": "1s", "static_configs": [{"targets": [blank.address]}]},
        ]}))
        (jobs / "ignored.txt").write_text("not: [yaml")
        start(collector, ports, grpc_sink, {"scrape_config_files": [str(jobs / "*.yml")]})
        want = lambda r: {"node_load1", "node_uname_info"} <= names(r, "node") and "legacy_up" in names(r, "legacy") \
            and "up" in names(r, "strict")  # noqa: E731
        reqs = grpc_sink.wait_for("metrics", want, timeout=20)
        node = {k[2]: (k, p) for k, p in series(reqs).items() if k[0] == "node"}
        # only the collectors asked for through params, only node_* series
        assert {n for n in node if n.startswith("node_")} >= {"node_load1", "node_load5", "node_load15"}
        assert "node_cpu_seconds" not in node and "node_memory_MemTotal_bytes" not in node
        assert not any(n.startswith(("go_", "process_", "promhttp_")) for n in node)
        key, uname = node["node_uname_info"]
        assert dict(key[3])["sysname"] == "Linux" and uname.as_double == 1
        assert node["up"][1].as_double == 1
        # no Content-Type: parsed with fallback_scrape_protocol, a failed scrape without
        got = series(reqs)
        assert got[("legacy", blank.address, "legacy_up", ())].as_double == 1
        assert got[("strict", blank.address, "up", ())].as_double == 0
        assert "legacy_up" not in names(reqs, "strict")
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@pytest.mark.parametrize("receiver,message", [
    ({"config": {"scrape_configs": [{"job_name": "k", "kubernetes_sd_configs": [{"role": "pod"}]}]}},
     "static_configs and file_sd_configs"),
    ({"target_allocator": {"endpoint": "http://ta:80"}, "config": {"scrape_configs": []}}, "target allocator"),
    ({"config": {"scrape_configs": [{"job_name": "p", "scrape_protocols": ["PrometheusProto"],
                                     "static_configs": [{"targets": ["a:1"]}]}]}}, "text formats only"),
    ({"config": {"scrape_configs": [{"job_name": "r", "static_configs": [{"targets": ["a:1"]}],
                                     "relabel_configs": [{"action": "hashmod", "target_label": "x"}]}]}},
     "non-zero modulus"),
])
def test_refused_options_say_why(ports, grpc_sink, tmp_path, receiver, message):
    from conftest import COLLECTOR_BIN
    cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                      extra_receivers={"prometheus": receiver},
                      pipelines={"metrics": pipeline(["otlp"], receivers=["prometheus"])})
    path = tmp_path / "config.yaml"
    path.write_text(cfg)
    out = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True)
    assert out.returncode != 0
    assert message in out.stdout + out.stderr


def test_validate_does_not_need_scrape_config_files(ports, grpc_sink, tmp_path):
    """CI validates configs without the deployment's files; a matched file is still checked."""
    from conftest import COLLECTOR_BIN

    def validate(pattern):
        cfg = config_yaml(ports, exporters={"otlp": otlp_exporter(grpc_sink.port)},
                          extra_receivers={"prometheus": {"config": {"scrape_config_files": [pattern]}}},
                          pipelines={"metrics": pipeline(["otlp"], receivers=["prometheus"])})
        path = tmp_path / "config.yaml"
        path.write_text(cfg)
        return subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True)

    assert validate(str(tmp_path / "absent" / "*.yml")).returncode == 0
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "bad.yml").write_text(yaml.safe_dump({"scrape_configs": [{
        "job_name": "x", "static_configs": [{"targets": ["a:1"]}],
        "metric_relabel_configs": [{"action": "labelmap", "replacement": "-bad"}]}]}))
    out = validate(str(jobs / "*.yml"))
    assert out.returncode != 0 and "is invalid 'replacement' for labelmap action" in out.stdout + out.stderr
