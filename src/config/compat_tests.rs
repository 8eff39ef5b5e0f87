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
