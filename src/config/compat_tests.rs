//! The rules that keep real otelcol configs working: config sources, files
//! the deployment provides, and endpoint checks, each through `load`.

use super::*;
use crate::registry::registry;

fn exporter(type_name: &str, settings: &str) -> String {
    format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  {type_name}:\n{settings}service:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [{type_name}]\n"
    )
}

fn errors(yaml: &str) -> Vec<String> {
    load_str(yaml, &registry()).unwrap_err().0.iter().map(ToString::to_string).collect()
}

#[test]
fn grpc_exporter_endpoints_without_a_numeric_port_are_errors_with_key_and_line() {
    for type_name in ["otlp", "jaeger"] {
        let errs = errors(&exporter(type_name, "    endpoint: tempo\n    tls: {insecure: true}\n"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with(&format!("exporters.{type_name}.endpoint: \"tempo\" has no port")), "{errs:?}");
        assert!(errs[0].ends_with("(at <inline>:7:15)"), "{errs:?}");
        let errs = errors(&exporter(type_name, "    endpoint: tempo:grpc\n"));
        assert!(errs[0].contains("invalid port \"grpc\""), "{errs:?}");
    }
    load_str(&exporter("otlp", "    endpoint: https://tempo:4317\n"), &registry()).unwrap();
}

#[test]
fn missing_deployment_files_warn_with_key_and_line_and_fail_the_start_check() {
    let yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        auth: {authenticator: bearertokenauth}\nexporters:\n  otlp:\n    endpoint: tempo:4317\n    tls:\n      ca_file: /nonexistent/ca.pem\nextensions:\n  bearertokenauth:\n    filename: /nonexistent/token\n  basicauth/unused:\n    htpasswd: {file: /nonexistent/htpasswd}\nservice:\n  extensions: [bearertokenauth]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n";
    let cfg = load_str(yaml, &registry()).expect("validation does not need the files");
    let warned = |key: &str, at: &str| {
        cfg.warnings.iter().any(|w| {
            w.starts_with(&format!("{key}: cannot read")) && w.contains("will refuse to start") && w.ends_with(at)
        })
    };
    assert!(warned("exporters.otlp.tls.ca_file", "(at <inline>:10:16)"), "{:?}", cfg.warnings);
    assert!(warned("extensions.bearertokenauth.filename", "(at <inline>:13:15)"), "{:?}", cfg.warnings);
    let errs: Vec<String> = cfg.check_files().unwrap_err().0.iter().map(ToString::to_string).collect();
    // the unused basicauth is not started, so its file is not needed
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("exporters.otlp.tls.ca_file: cannot read \"/nonexistent/ca.pem\""), "{errs:?}");
    assert!(errs[1].starts_with("extensions.bearertokenauth.filename: cannot read"), "{errs:?}");
    // insecure clients read no certificate
    let insecure =
        exporter("otlp", "    endpoint: tempo:4317\n    tls: {insecure: true, ca_file: /nonexistent/ca.pem}\n");
    assert!(load_str(&insecure, &registry()).unwrap().check_files().is_ok());
}

#[test]
fn an_unknown_source_is_refused_with_its_key_path_and_line() {
    let errs = errors(&exporter("otlp", "    endpoint: ${s3:bucket/endpoint}\n"));
    assert!(errs[0].starts_with("exporters.otlp.endpoint: unsupported config source 's3:'"), "{errs:?}");
    assert!(errs[0].ends_with("(at <inline>:7:15)"), "{errs:?}");
}

#[test]
fn file_sources_work_inside_a_config_file() {
    let dir = std::env::temp_dir().join(format!("otelstack-compat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("exporter.yaml"), "endpoint: ${env:BACKEND}:4317\ntls:\n  insecure: true\n").unwrap();
    let main = dir.join("collector.yaml");
    std::fs::write(
        &main,
        exporter("otlp", &format!("    ${{file:{}/exporter.yaml}}\n", dir.display()))
            .replace("  otlp:\n    ${", "  otlp: ${"),
    )
    .unwrap();
    let env = |name: &str| (name == "BACKEND").then(|| "tempo".to_owned());
    let cfg = load(&[Source::File(main.display().to_string())], &registry(), &env).unwrap();
    let otlp = format!("{:?}", cfg.exporters.values().next().unwrap());
    assert!(otlp.contains("endpoint: \"tempo:4317\"") && otlp.contains("insecure: true"), "{otlp}");
}

#[test]
fn known_keys_that_would_do_nothing_are_refused_with_their_key_path() {
    let receiver = |grpc: &str| {
        format!("receivers:\n  otlp:\n    protocols:\n      grpc:\n{grpc}exporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n")
    };
    let cases = [
        (
            exporter("otlp", "    endpoint: tempo:4317\n    wait_for_ready: true\n"),
            "exporters.otlp.wait_for_ready: is not supported",
        ),
        (
            exporter("jaeger", "    endpoint: jaeger:14250\n    write_buffer_size: 524288\n"),
            "exporters.jaeger.write_buffer_size: is not supported",
        ),
        (
            exporter("loki", "    endpoint: http://loki:3100/loki/api/v1/push\n    max_idle_conns: 10\n"),
            "exporters.loki.max_idle_conns: is not supported",
        ),
        (
            exporter("debug", "    output_paths: [stdout]\n"),
            "exporters.debug.output_paths: is not a debug exporter setting",
        ),
        (
            receiver("        include_metadata: true\n"),
            "receivers.otlp.protocols.grpc.include_metadata: is not supported",
        ),
        (
            receiver("        keepalive:\n          server_parameters: {max_connection_age: 30s}\n"),
            "receivers.otlp.protocols.grpc.keepalive.server_parameters.max_connection_age: is not supported",
        ),
        (
            format!("{}extensions:\n  health_check:\n    check_collector_pipeline: {{enabled: true}}\n", receiver(""))
                .replace("service:\n", "service:\n  extensions: [health_check]\n"),
            "extensions.health_check.check_collector_pipeline.enabled: is not supported",
        ),
    ];
    for (yaml, expected) in cases {
        let errs = errors(&yaml);
        assert!(errs.iter().any(|e| e.starts_with(expected)), "{expected}: {errs:?}");
    }
}

#[test]
fn grpc_keepalive_and_authority_are_read_and_the_disabled_pipeline_check_is_accepted() {
    let yaml = exporter(
        "otlp",
        "    endpoint: tempo:4317\n    authority: tempo.internal\n    keepalive: {time: 10s, timeout: 5s, permit_without_stream: true}\n",
    );
    let cfg = load_str(&yaml, &registry()).unwrap();
    let otlp = format!("{:?}", cfg.exporters.values().next().unwrap());
    assert!(otlp.contains("permit_without_stream: true") && otlp.contains("tempo.internal"), "{otlp}");
    let errs = errors(&exporter("otlp", "    endpoint: tempo:4317\n    authority: \"bad authority\"\n"));
    assert!(errs[0].starts_with("exporters.otlp.authority:"), "{errs:?}");
    let receiver = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        keepalive:\n          server_parameters: {time: 30s, timeout: 5s}\nexporters:\n  debug:\nextensions:\n  health_check:\n    check_collector_pipeline: {enabled: false, interval: 5m}\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";
    load_str(receiver, &registry()).unwrap();
}
