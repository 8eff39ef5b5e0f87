"""Config sources and the deployment's files, through the real binary.

- `${file:PATH}` as otelcol's file provider: a whole value takes the file's
  YAML type (a mapping becomes a section, with `${env:...}` inside it
  expanded), inside a longer string the raw text is kept, trailing newline
  included; checked on the resource attributes that arrive at a real sink.
- `validate` does not need the deployment's files: missing TLS files, a
  bearer token file and an htpasswd file are warnings naming the key path
  (exit 0); `run` of the same config fails with the key paths before it
  binds anything (the receiver's port is held by the test, so a bind attempt
  would show as a different error).
- gRPC exporter endpoints without a numeric port and unknown config-source
  schemes are refused by `validate` with the key path.
"""

from __future__ import annotations

import socket
import subprocess

from conftest import COLLECTOR_BIN, config_yaml, free_port, pipeline
from otlp_util import grpc_export, make_span, trace_request, typed_attrs


def run_cli(*args, timeout=30) -> subprocess.CompletedProcess:
    assert COLLECTOR_BIN.exists(), f"collector binary {COLLECTOR_BIN} not found"
    return subprocess.run([str(COLLECTOR_BIN), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_file_sources_end_to_end(collector, ports, grpc_sink, tmp_path):
    (tmp_path / "tenant").write_text("team-a\n")
    (tmp_path / "exporter.yaml").write_text("endpoint: ${env:IT_SINK}\ntls:\n  insecure: true\n")
    cfg = config_yaml(
        ports,
        processors={"resource": {"attributes": [
            {"key": "whole", "value": f"${{file:{tmp_path}/tenant}}", "action": "upsert"},
            {"key": "embedded", "value": f"t=${{file:{tmp_path}/tenant}}", "action": "upsert"},
        ]}},
        exporters={"otlp": "PLACEHOLDER"},
        pipelines={"traces": pipeline(["otlp"], ["resource"])},
    )
    # the whole exporter section comes from the file
    assert "otlp: \"PLACEHOLDER\"" in cfg, cfg
    cfg = cfg.replace("\"PLACEHOLDER\"", f"${{file:{tmp_path}/exporter.yaml}}")
    collector(cfg, env={"IT_SINK": grpc_sink.endpoint})
    grpc_export(ports.grpc, trace_request([make_span("from-file")], resource={"service.name": "files"}))
    grpc_sink.wait_for("traces", 1, timeout=5)
    [(_, _, span)] = grpc_sink.spans()
    assert span.name == "from-file"
    res = typed_attrs(grpc_sink.requests()[0].resource_spans[0].resource.attributes)
    assert res == {
        "service.name": ("string_value", "files"),
        "whole": ("string_value", "team-a"),
        "embedded": ("string_value", "t=team-a\n"),
    }


def _config_with_missing_files(tmp_path, grpc_port: int) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc_port}
        tls:
          cert_file: {tmp_path}/missing/server.crt
          key_file: {tmp_path}/missing/server.key
        auth:
          authenticator: bearertokenauth
exporters:
  otlp:
    endpoint: 127.0.0.1:{free_port()}
    tls:
      ca_file: {tmp_path}/missing/ca.pem
extensions:
  bearertokenauth:
    filename: {tmp_path}/missing/token
service:
  extensions: [bearertokenauth]
  telemetry:
    metrics:
      address: 127.0.0.1:{free_port()}
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
"""


MISSING_KEYS = [
    "receivers.otlp.protocols.grpc.tls.cert_file",
    "receivers.otlp.protocols.grpc.tls.key_file",
    "exporters.otlp.tls.ca_file",
    "extensions.bearertokenauth.filename",
]


def test_validate_warns_about_missing_files(tmp_path):
    path = tmp_path / "collector.yaml"
    path.write_text(_config_with_missing_files(tmp_path, free_port()))
    r = run_cli("validate", "--config", path)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ")]
    for key in MISSING_KEYS:
        [line] = [w for w in warnings if w.startswith(f"warning: {key}: cannot read")]
        assert "will refuse to start until it exists" in line and "(at " in line, line
    assert "configuration is valid" in r.stdout


def test_run_fails_on_missing_files_before_binding(tmp_path):
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        path = tmp_path / "collector.yaml"
        path.write_text(_config_with_missing_files(tmp_path, port))
        r = run_cli("--config", path)
    finally:
        holder.close()
    assert r.returncode != 0
    errors = [line.strip() for line in r.stderr.splitlines() if line.startswith("  ")]
    assert [e.split(":")[0] for e in errors] == MISSING_KEYS, r.stderr
    assert all("create it or correct the path" in e for e in errors), errors
    # had it tried to bind, the held port would have been the error
    assert "in use" not in r.stderr.lower(), r.stderr
    assert "is running" not in r.stderr


def test_validate_refuses_grpc_endpoints_without_a_port(tmp_path):
    for type_name in ("otlp", "jaeger"):
        path = tmp_path / f"{type_name}.yaml"
        path.write_text(f"""
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  {type_name}:
    endpoint: tempo
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [{type_name}]
""")
        r = run_cli("validate", "--config", path)
        assert r.returncode == 1
        assert f'exporters.{type_name}.endpoint: "tempo" has no port' in r.stderr, r.stderr
        assert f"({path}:8:15)" in r.stderr or f"{path}:8:15" in r.stderr, r.stderr


def test_validate_refuses_unknown_config_sources(tmp_path):
    path = tmp_path / "collector.yaml"
    path.write_text("""
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  otlp:
    endpoint: ${https:config.example.com/endpoint}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp]
""")
    r = run_cli("validate", "--config", path)
    assert r.returncode == 1
    assert "exporters.otlp.endpoint: unsupported config source 'https:'" in r.stderr, r.stderr
    assert "${file:PATH}" in r.stderr and f"{path}:8:15" in r.stderr, r.stderr


def test_grpc_keepalive_and_authority_reach_a_real_server(collector, ports, grpc_sink):
    """keepalive and authority go onto the exporter's channel; data still arrives item by item."""
    cfg = config_yaml(
        ports,
        exporters={"otlp": {"endpoint": grpc_sink.endpoint, "tls": {"insecure": True},
                            "authority": "tempo.internal:4317",
                            "keepalive": {"time": "10s", "timeout": "5s", "permit_without_stream": True}}},
        pipelines={"traces": pipeline(["otlp"])},
        grpc_extra={"keepalive": {"server_parameters": {"time": "30s", "timeout": "5s"}}},
    )
    collector(cfg)
    grpc_export(ports.grpc, trace_request([make_span("ka-1"), make_span("ka-2")]))
    grpc_sink.wait_for("traces", 1, timeout=5)
    assert [sp.name for (_, _, sp) in grpc_sink.spans()] == ["ka-1", "ka-2"]
