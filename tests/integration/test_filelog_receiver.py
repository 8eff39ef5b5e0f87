"""The filelog receiver with real files: the collector tails files the test
writes (and Debian's logrotate rotates), exports OTLP/gRPC to a sink, and
every record is checked item by item: lines appended while running arrive
once, in order, with their attributes; Java-like stack traces become one
record each; rotation by rename (`create`) and by `copytruncate` while a
writer keeps writing loses and repeats nothing; offsets kept in a
`file_storage` directory survive SIGTERM and kill -9; an Airflow task log
(Airflow 2.6+'s `[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s -
%(message)s` format) is parsed by regex_parser + timestamp + severity.

The exporter runs without a sending queue, so the receiver's batch is
accepted only once the sink has it: the checkpoint then says exactly what
was delivered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from conftest import GrpcSink, Ports, free_port, otlp_exporter, pipeline
from otlp_util import attrs, parse_prometheus, py_value, sample_value, to_yaml

LOGROTATE = "/usr/sbin/logrotate"


def filelog_config(ports: Ports, sink_port: int, settings: dict, storage: Path | None = None,
                   exporter: dict | None = None) -> str:
    extensions = {"health_check": {"endpoint": f"127.0.0.1:{ports.health}"}}
    receiver = {"poll_interval": "50ms", **settings}
    if storage is not None:
        extensions["file_storage"] = {"directory": str(storage), "create_directory": True}
        receiver["storage"] = "file_storage"
    cfg = {
        "receivers": {"filelog": receiver},
        "exporters": {"otlp": otlp_exporter(sink_port, sending_queue={"enabled": False}, **(exporter or {}))},
        "extensions": extensions,
        "service": {"extensions": list(extensions),
                    "pipelines": {"logs": pipeline(["otlp"], receivers=("filelog",))},
                    "telemetry": {"metrics": {"address": f"127.0.0.1:{ports.metrics}"}}},
    }
    return to_yaml(cfg) + "\n"


def records(sink) -> list:
    """(resource attributes, log record) for every record that arrived, in order."""
    return [(res, lr) for req in sink.requests("logs") for rl in req.resource_logs
            for res in [attrs(rl.resource.attributes)] for sl in rl.scope_logs for lr in sl.log_records]


def bodies(sink) -> list[str]:
    return [py_value(lr.body) for _, lr in records(sink)]


def wait_bodies(sink, n: int, timeout: float = 30.0) -> list[str]:
    sink.wait_for("logs", n, timeout=timeout)
    return bodies(sink)


class Writer(threading.Thread):
    """Appends numbered lines to `path` as an application would: one open
    handle, a line at a time, reopening the path when told (the postrotate
    signal of a `create` rotation). `gate` is held by the test while the
    writer must wait."""

    def __init__(self, path: Path, count: int, pause: float = 0.001):
        super().__init__(daemon=True)
        self.path, self.count, self.pause = path, count, pause
        self.reopen = threading.Event()
        self.gate = threading.Lock()
        self.written = 0

    def run(self):
        f = open(self.path, "a")
        for i in range(self.count):
            with self.gate:
                if self.reopen.is_set():
                    f.close()
                    f = open(self.path, "a")
                    self.reopen.clear()
                f.write(f"line-{i:06d}\n")
                f.flush()
                self.written = i + 1
            time.sleep(self.pause)
        f.close()


def expected(n: int, start: int = 0) -> list[str]:
    return [f"line-{i:06d}" for i in range(start, n)]


def logrotate(tmp_path: Path, log: Path, mode: str):
    conf = tmp_path / f"logrotate-{mode}.conf"
    conf.write_text(f"{log} {{\n    rotate 10\n    {mode}\n    missingok\n    nocompress\n}}\n")
    r = subprocess.run([LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(conf)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_lines_appended_while_running_arrive_once_in_order_with_attributes(tmp_path, collector, grpc_sink):
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.log"
    app.write_text("written before the start: start_at end skips it\n")
    (logs / "skip.txt").write_text("not matched\n")
    settings = {"include": [f"{logs}/*.log"], "exclude": [f"{logs}/ignored*.log"], "include_file_path": True,
                "attributes": {"team": "data"}, "resource": {"service.name": "pipeline"}}
    collector(filelog_config(Ports.new(), grpc_sink.port, settings))
    # start_at end applies to what the first poll finds; sync on a line that arrives
    for k in range(100):
        with open(app, "a") as f:
            f.write(f"sync-{k}\n")
        try:
            grpc_sink.wait_for("logs", 1, timeout=0.5)
            break
        except pytest.fail.Exception:
            continue
    (logs / "ignored-1.log").write_text("excluded\n")
    want = [f"event {i} payload={'x' * (i % 7)}" for i in range(300)]
    for chunk in range(0, 300, 50):
        with open(app, "a") as f:
            f.write("".join(w + "\n" for w in want[chunk:chunk + 50]))
        time.sleep(0.02)
    def events(reqs) -> list[str]:
        return [py_value(lr.body) for req in reqs for rl in req.resource_logs for sl in rl.scope_logs
                for lr in sl.log_records if not py_value(lr.body).startswith("sync-")]

    got = events(grpc_sink.wait_for("logs", lambda reqs: len(events(reqs)) >= 300, timeout=30))
    assert got == want
    recs = records(grpc_sink)
    syncs = [py_value(lr.body) for _, lr in recs if py_value(lr.body).startswith("sync-")]
    assert syncs and all(b == f"sync-{int(b[5:])}" for b in syncs) and len(set(syncs)) == len(syncs)
    for res, lr in recs:
        assert res == {"service.name": "pipeline"}
        assert attrs(lr.attributes) == {"log.file.name": "app.log", "log.file.path": str(app), "team": "data"}
        assert lr.observed_time_unix_nano > 0 and lr.time_unix_nano == 0
    grpc_sink.assert_quiet("logs", 0.5, len(recs))


JAVA_TRACES = [
    "2024-05-01 12:00:00,101 ERROR [main] com.example.Job - step failed\n"
    "java.lang.IllegalStateException: partition 7 missing\n"
    "\tat com.example.Job.load(Job.java:42)\n"
    "\tat com.example.Job.run(Job.java:17)\n"
    "Caused by: java.io.FileNotFoundException: /data/p7.parquet\n"
    "\tat java.base/java.io.FileInputStream.open0(Native Method)\n"
    "\t... 2 more",
    "2024-05-01 12:00:01,202 INFO [main] com.example.Job - retrying",
    "2024-05-01 12:00:02,303 ERROR [worker-3] org.apache.nifi.Processor - transfer failed\n"
    "java.net.SocketTimeoutException: Read timed out\n"
    "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
]


def test_multiline_stack_traces_become_one_record_each(tmp_path, collector, grpc_sink):
    log = tmp_path / "job.log"
    log.write_text("\n".join(JAVA_TRACES[:2]) + "\n")
    settings = {"include": [str(log)], "start_at": "beginning", "force_flush_period": "200ms",
                "multiline": {"line_start_pattern": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"}}
    collector(filelog_config(Ports.new(), grpc_sink.port, settings))
    assert wait_bodies(grpc_sink, 2) == JAVA_TRACES[:2], "the second entry is flushed after force_flush_period"
    with open(log, "a") as f:
        f.write(JAVA_TRACES[2] + "\n")
    assert wait_bodies(grpc_sink, 3) == JAVA_TRACES
    grpc_sink.assert_quiet("logs", 0.5, 3)


@pytest.mark.parametrize("mode", ["create", "copytruncate"])
def test_logrotate_loses_and_repeats_nothing(tmp_path, collector, grpc_sink, mode):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "app.log"
    log.touch()
    # create: only app.log is matched, the renamed file is read to its end
    # through the open handle; copytruncate: the copies are matched too, so
    # the lines copied before the truncation are found by fingerprint
    include = [str(log)] if mode == "create" else [f"{log}*"]
    collector(filelog_config(Ports.new(), grpc_sink.port, {"include": include, "start_at": "beginning"}))
    n = 3000
    w = Writer(log, n)
    w.start()
    rotations = 0
    for target in (600, 1400, 2200):
        while w.written < target:
            time.sleep(0.005)
        if mode == "create":
            logrotate(tmp_path, log, "create")
            w.reopen.set()
        else:
            # logrotate documents that lines written between its copy and its
            # truncate are lost whoever reads the file: the writer waits meanwhile
            with w.gate:
                logrotate(tmp_path, log, "copytruncate")
        rotations += 1
    w.join(60)
    assert w.written == n
    got = wait_bodies(grpc_sink, n, timeout=60)
    assert len(got) == len(set(got)), f"repeated: {sorted(b for b in set(got) if got.count(b) > 1)[:10]}"
    assert got == expected(n)
    assert sorted(p.name for p in logs.iterdir()) == ["app.log"] + [f"app.log.{i}" for i in range(1, rotations + 1)]
    grpc_sink.assert_quiet("logs", 0.5, n)


def run_with_restart(tmp_path, collector, grpc_sink, stop) -> list[str]:
    """Writes 3000 lines while a collector with file_storage reads them;
    `stop` ends the first collector mid-stream; a second one takes over."""
    log = tmp_path / "app.log"
    log.touch()
    storage = tmp_path / "storage"
    config = filelog_config(Ports.new(), grpc_sink.port, {"include": [str(log)], "start_at": "beginning"}, storage)
    first = collector(config, name="first")
    n = 3000
    w = Writer(log, n)
    w.start()
    grpc_sink.wait_for("logs", 800, timeout=30)
    stop(first)
    # lines keep coming while no collector runs
    while w.written < 2000 and w.is_alive():
        time.sleep(0.005)
    collector(config, name="second")
    w.join(60)
    assert w.written == n
    last = f"line-{n - 1:06d}"
    grpc_sink.wait_for("logs", lambda reqs: any(py_value(lr.body) == last for req in reqs for rl in req.resource_logs
                                                for sl in rl.scope_logs for lr in sl.log_records), timeout=60)
    got = bodies(grpc_sink)
    grpc_sink.assert_quiet("logs", 0.5, len(got))
    assert (storage / "receiver_filelog_filelog.json").exists()
    return got


def test_restart_after_sigterm_reads_every_line_exactly_once(tmp_path, collector, grpc_sink):
    got = run_with_restart(tmp_path, collector, grpc_sink, lambda c: c.terminate() == 0 or pytest.fail("exit"))
    assert got == expected(3000)


def test_kill_9_then_start_loses_nothing_and_repeats_at_most_the_batch_in_flight(tmp_path, collector, grpc_sink):
    def kill(c):
        os.killpg(c.proc.pid, signal.SIGKILL)
        c.proc.wait(10)
        c.start_failed = True  # no exit code 0 to expect from a killed process

    got = run_with_restart(tmp_path, collector, grpc_sink, kill)
    assert set(got) == set(expected(3000)), "no line is lost"
    repeated = len(got) - 3000
    largest_request = max(len(rl.scope_logs[0].log_records) for req in grpc_sink.requests("logs")
                          for rl in req.resource_logs)
    # a batch the sink took just before the kill, whose checkpoint was not yet written
    assert repeated <= largest_request
    print(f"kill -9: {repeated} repeated line(s) of 3000 (largest request {largest_request})")
    # order holds apart from that one repeated batch
    assert [b for i, b in enumerate(got) if b not in got[:i]] == expected(3000)


AIRFLOW_LOG = """\
[2024-05-01T12:00:00.123+0000] {taskinstance.py:1157} INFO - Dependencies all met for dep_context=non-requeueable deps ti=<TaskInstance: etl_daily.load manual__2024-05-01T11:59:00+00:00 [queued]>
[2024-05-01T12:00:00.456+0000] {taskinstance.py:1359} INFO - Starting attempt 1 of 3
[2024-05-01T12:00:05.789+0900] {logging_mixin.py:188} WARNING - /opt/airflow/dags/etl.py:12 DeprecationWarning: use schedule
[2024-05-01T12:00:07.001+0000] {taskinstance.py:2698} ERROR - Task failed with exception
Traceback (most recent call last):
  File "/opt/airflow/dags/etl.py", line 40, in load
    raise ValueError("bad row")
ValueError: bad row
[2024-05-01T12:00:07.002+0000] {taskinstance.py:1149} INFO - Marking task as UP_FOR_RETRY. dag_id=etl_daily, task_id=load
"""


def test_airflow_task_log_parsed_by_regex_time_and_severity(tmp_path, collector, grpc_sink):
    log_dir = tmp_path / "airflow" / "logs" / "dag_id=etl_daily" / "run_id=manual" / "task_id=load"
    log_dir.mkdir(parents=True)
    (log_dir / "attempt=1.log").write_text(AIRFLOW_LOG)
    settings = {
        "include": [f"{tmp_path}/airflow/logs/**/*.log"], "start_at": "beginning", "force_flush_period": "100ms",
        "multiline": {"line_start_pattern": r"^\[\d{4}-\d{2}-\d{2}T"},
        "operators": [
            {"type": "regex_parser",
             "regex": r"^\[(?P<time>[^\]]+)\] \{(?P<source>[^:]+):(?P<lineno>\d+)\} (?P<level>[A-Z]+) - (?P<message>(?s:.*))$",
             "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%L%z"},
             "severity": {"parse_from": "attributes.level"}},
            {"type": "move", "from": "attributes.message", "to": "body"},
            {"type": "remove", "field": "attributes.time"},
            {"type": "add", "field": "resource[\"service.name\"]", "value": "airflow"},
        ],
    }
    collector(filelog_config(Ports.new(), grpc_sink.port, settings))
    grpc_sink.wait_for("logs", 5)
    recs = records(grpc_sink)
    entries = [e for e in AIRFLOW_LOG.split("\n[") if e.strip()]
    assert len(recs) == len(entries) == 5
    sev = {"INFO": 9, "WARNING": 13, "ERROR": 17}
    for (res, lr), raw in zip(recs, entries):
        raw = raw.lstrip("[").rstrip("\n")
        stamp, rest = raw.split("] {", 1)
        source, rest = rest.split("} ", 1)
        level, message = rest.split(" - ", 1)
        assert res == {"service.name": "airflow"}
        assert py_value(lr.body) == message
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")
        assert lr.time_unix_nano == int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
        assert (lr.severity_number, lr.severity_text) == (sev[level], level)
        assert attrs(lr.attributes) == {"log.file.name": "attempt=1.log", "source": source.split(":")[0],
                                        "lineno": source.split(":")[1], "level": level}
    assert py_value(recs[3][1].body).endswith("ValueError: bad row")


def test_a_refusing_pipeline_keeps_the_lines_until_it_takes_them(tmp_path, collector):
    """The exporter cannot reach its destination and, without queue or
    retries, refuses each batch: the receiver keeps its offset and sends the
    same lines again until the destination comes up; nothing is dropped."""
    log = tmp_path / "app.log"
    log.write_text("".join(f"line-{i:06d}\n" for i in range(100)))
    ports, sink_port = Ports.new(), free_port()
    settings = {"include": [str(log)], "start_at": "beginning",
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "200ms"}}
    collector(filelog_config(ports, sink_port, settings, exporter={"retry_on_failure": {"enabled": False}}))

    def refused() -> float:
        text = requests.get(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5).text
        return sample_value(parse_prometheus(text), "otelcol_receiver_refused_log_records_total", receiver="filelog") or 0

    deadline = time.monotonic() + 30
    while refused() < 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert refused() >= 200, "the batch was refused at least twice"
    sink = GrpcSink(sink_port)
    try:
        assert wait_bodies(sink, 100, timeout=60) == expected(100)
        sink.assert_quiet("logs", 0.5, 100)
    finally:
        sink.stop()
