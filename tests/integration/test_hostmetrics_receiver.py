"""The hostmetrics receiver on this machine, read three ways.

The collector runs `hostmetrics` (every scraper, collection_interval 1s) ->
`prometheus` exporter. A real Prometheus (Debian's 2.42) scrapes it: the
metric names, types and attribute sets must be otelcol's. The test reads
/proc and statvfs itself around a scrape of the exporter, and the figures
must agree (memory states add up to MemTotal, filesystem sizes for "/",
counters between a reading before and one after). Debian's
prometheus-node-exporter, scraped on the same machine, must report the same
memory total, CPU count and root filesystem size.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conftest import config_yaml, free_port, pipeline, wait_tcp
from prometheus_client.parser import text_string_to_metric_families
from test_prometheus_exporter import Prometheus

SCRAPERS = ["cpu", "memory", "load", "disk", "filesystem", "network", "paging", "processes"]


def proc_cpus() -> list[str]:
    return [line.split()[0] for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("cpu") and not line.startswith("cpu ")]


def proc_stat_value(key: str) -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(key + " "):
            return int(line.split()[1])
    raise AssertionError(f"/proc/stat has no {key}")


def meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        k, v = line.split(":", 1)
        parts = v.split()
        out[k] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return out


def lo_rx_bytes() -> int:
    for line in Path("/proc/net/dev").read_text().splitlines():
        if line.strip().startswith("lo:"):
            return int(line.split(":", 1)[1].split()[0])
    raise AssertionError("no lo interface")


def scrape(port: int) -> dict[str, dict[tuple, float]]:
    """The exporter's exposition: sample name -> sorted label pairs -> value."""
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def only(series: dict[tuple, float], **labels) -> float:
    hits = [v for k, v in series.items() if all((n, val) in k for n, val in labels.items())]
    assert len(hits) == 1, f"{labels}: {hits} in {series}"
    return hits[0]


@pytest.fixture
def hostmetrics(collector, ports, tmp_path):
    prom_port = free_port()
    cfg = config_yaml(
        ports,
        exporters={"prometheus": {"endpoint": f"127.0.0.1:{prom_port}"}},
        pipelines={"metrics": pipeline(["prometheus"], receivers=["hostmetrics"])},
        extra_receivers={"hostmetrics": {"collection_interval": "1s", "initial_delay": "0s",
                                         "scrapers": {name: {} for name in SCRAPERS}}},
    )
    collector(cfg)
    deadline = time.monotonic() + 20
    while "system_memory_usage_bytes" not in scrape(prom_port):
        assert time.monotonic() < deadline, "no hostmetrics after 20s"
        time.sleep(0.3)
    return prom_port


def test_names_types_and_attribute_sets_reach_prometheus(hostmetrics, tmp_path):
    server = Prometheus(tmp_path / "prom", f"127.0.0.1:{hostmetrics}")
    try:
        cpus = proc_cpus()
        cpu_time = server.wait_query("system_cpu_time_seconds_total", want=len(cpus) * 8)
        assert {(s["metric"]["cpu"], s["metric"]["state"]) for s in cpu_time} == {
            (c, st) for c in cpus
            for st in ["user", "system", "idle", "interrupt", "nice", "softirq", "steal", "wait"]}
        want_labels = {
            "system_memory_usage_bytes": {"state"},
            "system_cpu_load_average_1m": set(),
            "system_cpu_load_average_5m": set(),
            "system_cpu_load_average_15m": set(),
            "system_disk_io_bytes_total": {"device", "direction"},
            "system_disk_operations_total": {"device", "direction"},
            "system_disk_io_time_seconds_total": {"device"},
            "system_disk_operation_time_seconds_total": {"device", "direction"},
            "system_disk_weighted_io_time_seconds_total": {"device"},
            "system_disk_pending_operations": {"device"},
            "system_disk_merged_total": {"device", "direction"},
            "system_filesystem_usage_bytes": {"device", "mode", "mountpoint", "type", "state"},
            "system_filesystem_inodes_usage": {"device", "mode", "mountpoint", "type", "state"},
            "system_network_packets_total": {"device", "direction"},
            "system_network_dropped_total": {"device", "direction"},
            "system_network_errors_total": {"device", "direction"},
            "system_network_io_bytes_total": {"device", "direction"},
            "system_network_connections": {"protocol", "state"},
            "system_paging_operations_total": {"direction", "type"},
            "system_paging_faults_total": {"type"},
            "system_processes_count": {"status"},
            "system_processes_created_total": set(),
        }
        for name, labels in want_labels.items():
            got = server.wait_query(name)
            for s in got:
                assert set(s["metric"]) - {"__name__", "job", "instance", "otel_scope_name", "otel_scope_version"} \
                    == labels, (name, s["metric"])
        states = {s["metric"]["state"] for s in server.query("system_memory_usage_bytes")}
        assert states == {"used", "free", "buffered", "cached", "slab_reclaimable", "slab_unreclaimable"}
        assert {s["metric"]["direction"] for s in server.query("system_network_io_bytes_total")} == {"receive", "transmit"}
        assert {s["metric"]["state"] for s in server.query('system_filesystem_usage_bytes{mountpoint="/"}')} \
            == {"used", "free", "reserved"}
        # types: sums that only grow are counters, the rest gauges
        meta = requests.get(f"http://127.0.0.1:{server.port}/api/v1/metadata", timeout=5).json()["data"]
        assert meta["system_cpu_time_seconds_total"][0]["type"] == "counter"
        assert meta["system_cpu_time_seconds_total"][0]["unit"] in ("", "seconds")
        assert meta["system_disk_io_bytes_total"][0]["type"] == "counter"
        assert meta["system_memory_usage_bytes"][0]["type"] == "gauge"
        assert meta["system_cpu_load_average_1m"][0]["type"] == "gauge"
        assert meta["system_processes_count"][0]["type"] == "gauge"
        # system.cpu.time grows between scrapes
        first = {(s["metric"]["cpu"], s["metric"]["state"]): float(s["value"][1]) for s in cpu_time}
        time.sleep(3)
        later = {(s["metric"]["cpu"], s["metric"]["state"]): float(s["value"][1])
                 for s in server.query("system_cpu_time_seconds_total")}
        assert all(later[k] >= first[k] for k in first)
        assert sum(later.values()) > sum(first.values())
    finally:
        server.stop()


def test_values_agree_with_proc_read_at_the_same_time(hostmetrics):
    created_before, lo_before = proc_stat_value("processes"), lo_rx_bytes()
    time.sleep(2.5)  # at least one scrape after the readings above
    got = scrape(hostmetrics)
    created_after, lo_after = proc_stat_value("processes"), lo_rx_bytes()

    total = meminfo()["MemTotal"]
    usage = got["system_memory_usage_bytes"]
    assert len(usage) == 6
    assert sum(usage.values()) == total
    assert only(usage, state="used") > 0

    st = os.statvfs("/")
    fs = {k: v for k, v in got["system_filesystem_usage_bytes"].items() if ("mountpoint", "/") in k}
    assert len(fs) == 3
    assert sum(fs.values()) == st.f_blocks * st.f_frsize
    free = only(fs, state="free")
    assert abs(free - st.f_bavail * st.f_frsize) < 0.05 * st.f_blocks * st.f_frsize
    inodes = {k: v for k, v in got["system_filesystem_inodes_usage"].items() if ("mountpoint", "/") in k}
    assert sum(inodes.values()) == st.f_files

    cpu = got["system_cpu_time_seconds_total"]
    assert {dict(k)["cpu"] for k in cpu} == set(proc_cpus())
    idle = Path("/proc/stat").read_text().splitlines()[1].split()
    assert only(cpu, cpu=idle[0], state="idle") <= int(idle[4]) / 100 + 0.01

    created = got["system_processes_created_total"][()]
    assert created_before <= created <= created_after
    lo = only(got["system_network_io_bytes_total"], device="lo", direction="receive")
    assert lo_before <= lo <= lo_after

    loadavg = [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    assert 0 <= got["system_cpu_load_average_1m"][()] <= max(loadavg[0] * 3, loadavg[0] + 20)

    # per-process states, with running/blocked from /proc/stat and the rest of
    # /proc/loadavg's total as unknown (otelcol's rule on Linux)
    counts = got["system_processes_count"]
    sleeping = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                sleeping += (p / "stat").read_text().rsplit(")", 1)[1].split()[0] == "S"
            except (OSError, IndexError):
                pass
    assert abs(only(counts, status="sleeping") - sleeping) <= max(20, sleeping // 5)
    assert only(counts, status="running") >= 1
    total = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    assert abs(sum(counts.values()) - total) <= max(50, total // 5)


def test_figures_match_a_real_node_exporter(hostmetrics, tmp_path):
    port = free_port()
    log = open(tmp_path / "node_exporter.log", "wb")
    proc = subprocess.Popen(
        ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
         "--collector.disable-defaults", "--collector.meminfo", "--collector.cpu", "--collector.filesystem"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_tcp(port, 20, proc), "node exporter did not start"
        node = scrape(port)
        ours = scrape(hostmetrics)
        assert sum(ours["system_memory_usage_bytes"].values()) == node["node_memory_MemTotal_bytes"][()]
        node_cpus = {dict(k)["cpu"] for k in node["node_cpu_seconds_total"]}
        our_cpus = {dict(k)["cpu"] for k in ours["system_cpu_time_seconds_total"]}
        assert {f"cpu{c}" for c in node_cpus} == our_cpus
        node_root = only(node["node_filesystem_size_bytes"], mountpoint="/")
        our_root = sum(v for k, v in ours["system_filesystem_usage_bytes"].items() if ("mountpoint", "/") in k)
        assert our_root == node_root
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
