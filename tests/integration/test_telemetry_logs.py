"""The collector's own log settings (`service.telemetry.logs`) and the debug
exporter's `output_paths`, through the real binary: what lands in the files
the config names."""
from __future__ import annotations

import json
import subprocess
import time

import requests
import yaml

from conftest import COLLECTOR_BIN, Ports, config_yaml, pipeline

SPAN = {"resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "logs-test"}}]},
    "scopeSpans": [{"spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "hello", "kind": 2,
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000100000000"}]}]}]}


def wait_for_lines(path, predicate, timeout=10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_text().splitlines()
            if predicate(lines):
                return lines
        time.sleep(0.05)
    raise AssertionError(f"{path}: condition not met; lines: {lines[-10:]}")


def test_json_logs_with_initial_fields_go_to_the_output_file_and_debug_writes_to_its_own(collector, tmp_path):
    ports = Ports.new()
    log_file, debug_file = tmp_path / "collector.log", tmp_path / "debug.txt"
    cfg = yaml.safe_load(config_yaml(
        ports,
        exporters={"debug": {"use_internal_logger": False, "output_paths": [str(debug_file)]}},
        pipelines={"traces": pipeline(["debug"])},
    ))
    cfg["service"]["telemetry"]["logs"] = {
        "encoding": "json", "output_paths": [str(log_file)], "initial_fields": {"deployment": "ci"},
    }
    c = collector(yaml.safe_dump(cfg))
    lines = wait_for_lines(log_file, lambda ls: any("otelstack-collector is running" in line for line in ls))
    records = [json.loads(line) for line in lines]
    running = next(r for r in records if r["fields"]["message"] == "otelstack-collector is running")
    assert running["deployment"] == "ci" and running["level"] == "INFO"
    assert all(r["deployment"] == "ci" for r in records), records
    assert running["filename"].endswith(".rs") and running["line_number"] > 0
    assert "otelstack-collector is running" not in c.stderr(), "stderr is not an output path here"

    r = requests.post(f"{ports.http_url}/v1/traces", json=SPAN, timeout=5)
    assert r.status_code == 200, r.text
    out = wait_for_lines(debug_file, lambda ls: len(ls) >= 1)
    assert len(out) == 1 and '"otelcol.component.id": "debug"' in out[0] and '"spans": 1}' in out[0], out


def test_what_the_logs_cannot_do_is_refused_by_validate(tmp_path):
    ports = Ports.new()
    cfg = yaml.safe_load(config_yaml(ports, exporters={"debug": {}}, pipelines={"traces": pipeline(["debug"])}))
    cfg["service"]["telemetry"]["logs"] = {"development": True, "processors": [{"batch": {"exporter": {}}}]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = subprocess.run([str(COLLECTOR_BIN), "validate", "--config", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "service.telemetry.logs.development: is not supported" in r.stderr, r.stderr
    assert "service.telemetry.logs.processors: is not supported" in r.stderr, r.stderr
