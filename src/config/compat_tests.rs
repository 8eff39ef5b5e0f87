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
            "exporters.debug.output_paths: applies only with use_internal_logger: false",
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

#[test]
fn keys_parsed_but_not_honoured_are_refused_with_key_path_and_line() {
    let service = |telemetry: &str| {
        format!("receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nservice:\n  telemetry:\n{telemetry}  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n")
    };
    let cases = [
        (
            exporter("otlp", "    endpoint: tempo:4317\n    sending_queue:\n      wait_for_result: true\n"),
            "exporters.otlp.sending_queue.wait_for_result: is not supported",
            "(at <inline>:9:24)",
        ),
        (
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        transport: unix\n        endpoint: /tmp/otlp.sock\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n".to_owned(),
            "receivers.otlp.protocols.grpc.transport: \"unix\" is not supported",
            "(at <inline>:5:20)",
        ),
        (
            service("    logs:\n      development: true\n"),
            "service.telemetry.logs.development: is not supported",
            "(at <inline>:10:20)",
        ),
        (
            service("    metrics:\n      readers:\n        - periodic: {exporter: {otlp: {endpoint: x:4317}}}\n"),
            "service.telemetry.metrics.readers.0: is not supported",
            "(at <inline>:11:11)",
        ),
        (
            format!("{}processors:\n  attributes:\n    actions:\n      - {{key: tenant, action: upsert, from_context: auth.tenant}}\n", exporter("debug", ""))
                .replace("      exporters: [debug]", "      processors: [attributes]\n      exporters: [debug]"),
            "processors.attributes.actions.0: from_context \"auth.tenant\" is not supported",
            "",
        ),
    ];
    for (yaml, expected, at) in cases {
        let errs = errors(&yaml);
        assert!(errs.iter().any(|e| e.starts_with(expected) && e.ends_with(at)), "{expected} {at}: {errs:?}");
    }
}

#[test]
fn the_jaeger_exporter_reads_the_otlp_settings_with_its_own_default_compression() {
    let parse = |settings: &str| {
        let cfg = load_str(&exporter("jaeger", settings), &registry()).unwrap();
        format!("{:?}", cfg.exporters.values().next().unwrap())
    };
    assert!(parse("    endpoint: jaeger:14250\n").contains("compression: None"));
    assert!(parse("    endpoint: jaeger:14250\n    compression: gzip\n").contains("compression: Gzip"));
    let otlp = load_str(&exporter("otlp", "    endpoint: tempo:4317\n"), &registry()).unwrap();
    assert!(format!("{:?}", otlp.exporters.values().next().unwrap()).contains("compression: Gzip"));
    for (settings, expected) in [
        ("    endpoint: \"\"\n", "exporters.jaeger.endpoint: is required, like \"jaeger:14250\""),
        (
            "    endpoint: jaeger:14250\n    compression: zstd\n",
            "exporters.jaeger.compression: zstd is not supported by the jaeger exporter",
        ),
        (
            "    endpoint: jaeger:14250\n    balancer_name: random\n",
            "exporters.jaeger.balancer_name: \"random\" is not a gRPC balancer",
        ),
    ] {
        let errs = errors(&exporter("jaeger", settings));
        assert!(errs[0].starts_with(expected), "{errs:?}");
    }
    // the otlp exporter checks the balancer as upstream's configgrpc does
    let errs = errors(&exporter("otlp", "    endpoint: tempo:4317\n    balancer_name: random\n"));
    assert!(errs[0].starts_with("exporters.otlp.balancer_name: \"random\" is not a gRPC balancer"), "{errs:?}");
}

#[test]
fn the_grpc_exporters_refuse_to_limit_the_tls_version() {
    let errs = errors(&exporter("otlp", "    endpoint: https://tempo:4317\n    tls: {min_version: \"1.3\"}\n"));
    assert!(
        errs[0].starts_with("exporters.otlp.tls.min_version: limiting the TLS version is not supported"),
        "{errs:?}"
    );
    load_str(&exporter("otlp", "    endpoint: https://tempo:4317\n    tls: {min_version: \"1.2\"}\n"), &registry())
        .unwrap();
}
