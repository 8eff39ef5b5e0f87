use super::*;
use crate::registry::registry;

fn load_yaml(yaml: &str) -> Result<Config, ConfigErrors> {
    load_str(yaml, &registry())
}

fn errors(yaml: &str) -> Vec<String> {
    load_yaml(yaml).unwrap_err().0.iter().map(ToString::to_string).collect()
}

const MINIMAL: &str = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [debug]\n";

fn seeds_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/testdata/seeds")
}

#[test]
fn seed_configs_of_the_core_components_validate_unchanged() {
    for name in ["001_otlp_batch_otlp.yaml", "001_operator_sidecar.yaml", "001_sidecar_configmap.yaml"] {
        let path = seeds_dir().join(name);
        let cfg = load(&[Source::File(path.display().to_string())], &registry(), &|_| None)
            .unwrap_or_else(|e| panic!("{name} must validate:\n{e}"));
        assert_eq!(cfg.pipelines.len(), 1, "{name}");
        assert!(cfg.exporters.keys().any(|id| id.type_name == "otlp"), "{name}");
    }
}

#[test]
fn seed_002_pipelines_validate() {
    // The gateway described in seed 002: OTLP -> batch -> resource -> [debug, otlp to Tempo] for traces,
    // OTLP -> batch -> resource -> debug for metrics and logs.
    let yaml = r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 0.0.0.0:4317 }
      http: { endpoint: 0.0.0.0:4318 }
processors:
  batch: {}
  resource:
    attributes:
      - { key: cluster.name, value: minikube, action: upsert }
exporters:
  debug: { verbosity: detailed }
  otlp:
    endpoint: tempo-stack.monitoring.svc.cluster.local:4317
    tls: { insecure: true }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch, resource], exporters: [debug, otlp] }
    metrics: { receivers: [otlp], processors: [batch, resource], exporters: [debug] }
    logs: { receivers: [otlp], processors: [batch, resource], exporters: [debug] }
"#;
    let cfg = load_yaml(yaml).unwrap();
    assert_eq!(cfg.pipelines.len(), 3);
    assert_eq!(cfg.pipelines[2].processors.iter().map(ToString::to_string).collect::<Vec<_>>(), ["batch", "resource"]);
}

#[test]
fn empty_values_are_empty_maps_and_defaults_apply() {
    let cfg = load_yaml(&format!("processors:\n  batch:\n{MINIMAL}")).unwrap();
    assert!(cfg.processors.is_empty(), "an unused processor is dropped");
    assert!(cfg.warnings.iter().any(|w| w.contains("processors.batch") && w.contains("not used")));
    let cfg = load_yaml(MINIMAL).unwrap();
    assert_eq!(cfg.telemetry.metrics.listen_address().as_deref(), Some("localhost:8888"));
    assert!(format!("{:?}", cfg.receivers.values().next().unwrap()).contains("localhost:4317"));
}

#[test]
fn typo_names_the_path_line_and_suggestion() {
    let yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  otlp:\n    endpoint: tempo:4317\n    tls:\n      insecur: true\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n";
    let errs = errors(yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("exporters.otlp.tls.insecur: unknown field; did you mean 'insecure'?"), "{}", errs[0]);
    assert!(errs[0].contains("<inline>:9:"), "line of the typo: {}", errs[0]);
}

#[test]
fn reports_every_error_at_once() {
    let yaml = r#"
receivers:
  otlp:
    protocols:
      grpc:
        max_recv_msg_size_mib: lots
  kafka: {}
processors:
  batch:
    timeout: 5 seconds
exporters:
  debug:
    verbosity: loud
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch, missing]
      exporters: [debug, nowhere]
    spans:
      receivers: [otlp]
      exporters: [debug]
"#;
    let errs = errors(yaml).join("\n");
    for expected in [
        "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: invalid type",
        "receivers.kafka: unknown receiver type \"kafka\"",
        "processors.batch.timeout: invalid duration",
        "exporters.debug.verbosity: unknown value 'loud'",
        "service.pipelines.traces.processors.1: references processor \"missing\" which is not configured",
        "service.pipelines.traces.exporters.1: references exporter \"nowhere\" which is not configured",
        "service.pipelines.spans: unknown pipeline type \"spans\"",
    ] {
        assert!(errs.contains(expected), "missing {expected:?} in:\n{errs}");
    }
}

#[test]
fn semantic_validation_runs_before_build() {
    let yaml = MINIMAL
        .replace("exporters:\n  debug:\n", "exporters:\n  debug:\n  otlp:\n    tls: {insecure: true}\n")
        .replace("exporters: [debug]", "exporters: [otlp]");
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("exporters.otlp.endpoint: is required, like \"tempo:4317\""), "{errs:?}");
    let yaml = format!(
        "processors:\n  batch:\n    send_batch_size: 100\n    send_batch_max_size: 10\n{}",
        MINIMAL.replace("exporters: [debug]", "processors: [batch]\n      exporters: [debug]")
    );
    assert!(errors(&yaml)[0].starts_with("processors.batch.send_batch_max_size: must be 0 or at least send_batch_size"));
}

#[test]
fn logging_exporter_is_debug_with_a_warning() {
    let cfg = load_yaml(&MINIMAL.replace("debug", "logging")).unwrap();
    assert!(cfg.warnings.iter().any(|w| w.starts_with("exporters.logging:") && w.contains("rename it to 'debug'")));
}

#[test]
fn removed_exporters_warn_once_per_type_and_keep_their_signal() {
    let yaml = MINIMAL
        .replace(
            "exporters:\n  debug:\n",
            "exporters:\n  debug:\n  jaeger:\n    endpoint: jaeger:14250\n  jaeger/b:\n    endpoint: jaeger:14250\n",
        )
        .replace("exporters: [debug]", "exporters: [debug, jaeger, jaeger/b]");
    let cfg = load_yaml(&yaml).unwrap();
    let notes: Vec<_> = cfg.warnings.iter().filter(|w| w.contains("jaeger exporter was removed")).collect();
    assert_eq!(notes.len(), 1, "{:?}", cfg.warnings);
    assert!(notes[0].starts_with("exporters.jaeger:") && notes[0].contains("jaeger:4317"));
    let logs = MINIMAL
        .replace("  debug:\n", "  jaeger:\n    endpoint: jaeger:14250\n")
        .replace("[debug]", "[jaeger]")
        .replace("traces:", "logs:");
    assert!(errors(&logs).iter().any(|e| e.contains("\"jaeger\" does not support logs")), "{:?}", errors(&logs));
}

#[test]
fn named_components_and_pipelines() {
    let yaml = "receivers:\n  otlp/in:\n    protocols:\n      http:\nexporters:\n  otlp/trace:\n    endpoint: http://tempo:4317\n    tls:\n      insecure: true\n      insecure_skip_verify: true\nservice:\n  pipelines:\n    traces/main:\n      receivers: [otlp/in]\n      exporters: [otlp/trace]\n";
    let cfg = load_yaml(yaml).unwrap();
    assert_eq!(cfg.pipelines[0].id.to_string(), "traces/main");
    assert_eq!(cfg.pipelines[0].exporters[0].to_string(), "otlp/trace");
}

#[test]
fn several_configs_merge_maps_and_replace_lists() {
    let dir = std::env::temp_dir().join(format!("otelstack-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let a = dir.join("a.yaml");
    let b = dir.join("b.yaml");
    std::fs::write(&a, MINIMAL).unwrap();
    std::fs::write(&b, "exporters:\n  debug:\n    verbosity: detailed\n  otlp:\n    endpoint: x:4317\nservice:\n  pipelines:\n    traces:\n      exporters: [otlp]\n").unwrap();
    let cfg =
        load(&[Source::File(a.display().to_string()), Source::File(b.display().to_string())], &registry(), &|_| None)
            .unwrap();
    let p = &cfg.pipelines[0];
    assert_eq!(p.receivers[0].to_string(), "otlp", "kept from the first file");
    assert_eq!(p.exporters.iter().map(ToString::to_string).collect::<Vec<_>>(), ["otlp"], "the list is replaced");
    assert!(cfg.warnings.iter().any(|w| w.contains("exporters.debug")), "debug is now unused");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn environment_is_expanded_with_types() {
    let env = |n: &str| match n {
        "PORT" => Some("4319".to_owned()),
        "TOKEN" => Some("s3cret".to_owned()),
        _ => None,
    };
    let text = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:${env:PORT}\n        max_recv_msg_size_mib: ${env:SIZE:-8}\nexporters:\n  otlp:\n    endpoint: tempo:4317\n    headers:\n      authorization: Bearer ${TOKEN}\n      cost: $$5\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n";
    let mut warnings = Vec::new();
    let tree = load_tree(
        &[Source::Env("CFG".into())],
        &|n| if n == "CFG" { Some(text.to_owned()) } else { env(n) },
        &mut warnings,
    )
    .unwrap();
    let json = tree.to_json();
    assert_eq!(json["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"], "0.0.0.0:4319");
    assert_eq!(json["receivers"]["otlp"]["protocols"]["grpc"]["max_recv_msg_size_mib"], 8);
    assert_eq!(json["exporters"]["otlp"]["headers"]["authorization"], "Bearer s3cret");
    assert_eq!(json["exporters"]["otlp"]["headers"]["cost"], "$5");
    assert!(warnings.is_empty());
}

#[test]
fn structural_problems_are_sentences() {
    assert!(errors("receivers: [otlp]\nservice: {}\n").iter().any(|e| e.starts_with("receivers: must be a mapping")));
    assert!(errors("exporter:\n  debug:\n").iter().any(|e| e.contains("did you mean 'exporters'")));
    assert!(errors("receivers:\n  otlp:\n").iter().any(|e| e.starts_with("service: missing")));
    assert!(errors(&MINIMAL.replace("      grpc:\n", ""))
        .iter()
        .any(|e| e.starts_with("receivers.otlp.protocols: enable at least one protocol")));
    let bad_yaml = load_str("receivers: {otlp: [\n", &registry()).unwrap_err().to_string();
    assert!(bad_yaml.contains("invalid YAML"), "{bad_yaml}");
}

#[test]
fn default_config_is_valid() {
    let cfg = load(&[Source::Default], &registry(), &|_| None).unwrap();
    assert_eq!(cfg.pipelines.len(), 3);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn shipped_examples_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/collector");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            load(&[Source::File(path.display().to_string())], &registry(), &|_| None)
                .unwrap_or_else(|e| panic!("{} must validate:\n{e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 2, "examples/collector holds the example configs");
}

#[test]
fn attributes_include_is_checked_against_each_pipeline_signal() {
    let yaml = format!(
        "processors:\n  attributes:\n    actions: [{{key: a, value: b, action: insert}}]\n    include:\n      match_type: strict\n      log_bodies: [x]\n{}",
        MINIMAL.replace("exporters: [debug]", "processors: [attributes]\n      exporters: [debug]")
    );
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("processors.attributes.include.log_bodies")
            && errs[0].contains("log_bodies should not be specified for trace spans (in pipeline \"traces\")"),
        "{errs:?}"
    );
    let logs = yaml.replace("    traces:\n", "    logs:\n");
    load_yaml(&logs).unwrap();
    let bad = yaml.replace("match_type: strict", "match_type: regexp").replace("[x]", "['(']");
    let errs = errors(&bad);
    // the bad regexp is reported once, by the signal-free check, not again per pipeline
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("processors.attributes.include.log_bodies.0") && errs[0].contains("invalid regexp"));
    assert!(errs[1].contains("log_bodies should not be specified for trace spans"), "{errs:?}");
}
