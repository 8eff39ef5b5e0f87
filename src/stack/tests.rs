use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, Yaml};

use super::*;

fn opts() -> StackOptions {
    StackOptions::new("demo", Secrets::dev())
}

fn file<'a>(files: &'a [RenderedFile], path: &str) -> &'a RenderedFile {
    files.iter().find(|f| f.path == Path::new(path)).unwrap_or_else(|| panic!("{path} not rendered"))
}

fn paths(files: &[RenderedFile]) -> Vec<String> {
    files.iter().map(|f| f.path.to_string_lossy().into_owned()).collect()
}

fn yaml(text: &str) -> Yaml<'_> {
    let mut docs = Yaml::load_from_str(text).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn every_rendered_file_parses() {
    for layout in [Layout::Project, Layout::Clone] {
        let files = render(&StackOptions { layout, ..opts() }).unwrap();
        for f in &files {
            let p = f.path.to_string_lossy();
            if p.ends_with(".yml") || p.ends_with(".yaml") {
                yaml(&f.contents);
            } else if p.ends_with(".json") {
                serde_json::from_str::<serde_json::Value>(&f.contents).unwrap_or_else(|e| panic!("{p}: {e}"));
            } else if p.ends_with(".toml") {
                toml::from_str::<Marker>(&f.contents).unwrap_or_else(|e| panic!("{p}: {e}"));
            }
            assert!(!f.contents.contains("{{") || p.ends_with(".json"), "{p} has an unrendered tag");
            assert!(!f.contents.contains("{%"), "{p} has an unrendered tag");
        }
    }
}

#[test]
fn project_layout_has_the_agreed_files() {
    let files = render(&opts()).unwrap();
    let got = paths(&files);
    for want in [
        "docker-compose.yml",
        ".env",
        "otelcol/config.yaml",
        "prometheus/prometheus.yml",
        "tempo/tempo.yaml",
        "jaeger/config.yaml",
        "grafana/provisioning/datasources/otelstack.yaml",
        "grafana/provisioning/dashboards/otelstack.yaml",
        "grafana/dashboards/collector-health.json",
        "grafana/dashboards/service-red.json",
        "grafana/dashboards/recent-failures.json",
        "README.md",
        "stackctl.toml",
    ] {
        assert!(got.contains(&want.to_owned()), "{want} missing from {got:?}");
    }
    assert_eq!(file(&files, ".env").mode, 0o600);
    assert_eq!(file(&files, "docker-compose.yml").mode, 0o644);
    assert_eq!(files.last().unwrap().path, PathBuf::from("stackctl.toml"));
}

#[test]
fn clone_layout_points_compose_at_the_shared_directories() {
    let files = render(&StackOptions::checked_in()).unwrap();
    let compose = &file(&files, "compose/docker-compose.yml").contents;
    assert!(compose.contains("- ../provisioning:/etc/grafana/provisioning:ro"));
    assert!(compose.contains("- ../dashboards:/etc/otelstack/dashboards:ro"));
    assert!(compose.contains("context: .."));
    file(&files, "dashboards/service-red.json");
    file(&files, "provisioning/datasources/otelstack.yaml");
    let marker: Marker = toml::from_str(&file(&files, "compose/stackctl.toml").contents).unwrap();
    assert_eq!(marker.stack.root, "..");
    assert!(marker.files.contains_key("dashboards/recent-failures.json"));
    // An init'd project has no build context: its image comes from `stackctl image build`.
    assert!(!file(&render(&opts()).unwrap(), "docker-compose.yml").contents.contains("build:"));
}

#[test]
fn without_drops_the_service_everywhere() {
    let mut o = opts();
    o.without(&[Service::Tempo, Service::Jaeger, Service::Grafana]).unwrap();
    let files = render(&o).unwrap();
    let got = paths(&files);
    assert!(!got.iter().any(|p| p.starts_with("tempo/") || p.starts_with("jaeger/") || p.starts_with("grafana/")));
    let compose = yaml(&file(&files, "docker-compose.yml").contents);
    let services: Vec<&str> = compose["services"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(services, ["collector", "prometheus", "mariadb"]);
    let otelcol = &file(&files, "otelcol/config.yaml").contents;
    assert!(!otelcol.contains("tempo") && !otelcol.contains("jaeger"), "{otelcol}");
    let env = &file(&files, ".env").contents;
    assert!(!env.contains("GRAFANA_PORT="), "{env}");
}

#[test]
fn core_services_cannot_be_left_out() {
    let err = opts().without(&[Service::Mariadb]).unwrap_err().to_string();
    assert!(err.contains("cannot be left out") && err.contains("tempo, jaeger, grafana and alertmanager"), "{err}");
}

#[test]
fn ports_and_images_reach_env_and_compose() {
    let mut o = opts();
    o.ports.insert("GRAFANA_PORT".into(), 3001);
    o.images.insert(Service::Prometheus, "otelstack-test/prometheus:local".into());
    let files = render(&o).unwrap();
    let env = &file(&files, ".env").contents;
    assert!(env.contains("GRAFANA_PORT=3001\n"));
    assert!(env.contains("PROMETHEUS_IMAGE=otelstack-test/prometheus:local\n"));
    assert!(env.contains(&format!("TEMPO_IMAGE={}\n", versions::TEMPO)));
    let compose = &file(&files, "docker-compose.yml").contents;
    // The compose file keeps the pinned default; .env carries the override.
    assert!(compose.contains(&format!("image: ${{PROMETHEUS_IMAGE:-{}}}", versions::PROMETHEUS)));
    assert!(compose.contains("\"127.0.0.1:${GRAFANA_PORT:-3000}:3000\""));
    assert!(compose.contains("\"0.0.0.0:${OTLP_GRPC_PORT:-4317}:4317\""));
    assert!(file(&files, "README.md").contents.contains("http://localhost:3001"));
}

#[test]
fn clashing_ports_and_bad_names_are_sentences() {
    let mut o = opts();
    o.ports.insert("GRAFANA_PORT".into(), 9090);
    let err = render(&o).unwrap_err().to_string();
    assert!(err.contains("PROMETHEUS_PORT and GRAFANA_PORT are both set to port 9090"), "{err}");
    let err = render(&StackOptions::new("My Stack", Secrets::dev())).unwrap_err().to_string();
    assert!(err.contains("cannot be a compose project name"), "{err}");
}

#[test]
fn secrets_are_random_alphanumeric_and_reread_from_env() {
    let a = Secrets::generate().unwrap();
    let b = Secrets::generate().unwrap();
    assert_ne!(a, b);
    for s in [&a.grafana_admin_password, &a.mariadb_password, &a.mariadb_root_password] {
        assert_eq!(s.len(), 24);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()), "{s}");
    }
    let files = render(&StackOptions::new("demo", a.clone())).unwrap();
    assert_eq!(Secrets::from_env_file(&file(&files, ".env").contents), Ok(Some(a)));
    assert_eq!(Secrets::from_env_file("MARIADB_PASSWORD=x\n"), Ok(None));
    assert_eq!(Secrets::from_env_file("MARIADB_PASSWORD='x\n").unwrap_err().line, 1);
}

#[test]
fn anonymous_grafana_is_off_unless_asked() {
    let env = |o: &StackOptions| file(&render(o).unwrap(), ".env").contents.clone();
    assert!(env(&opts()).contains("GRAFANA_ANONYMOUS_ENABLED=false"));
    assert!(env(&StackOptions { grafana_anonymous: true, ..opts() }).contains("GRAFANA_ANONYMOUS_ENABLED=true"));
}

#[test]
fn trace_links_follow_the_selected_trace_backend() {
    let link = |o: &StackOptions| {
        let files = render(o).unwrap();
        let ds = yaml(&file(&files, "grafana/provisioning/datasources/otelstack.yaml").contents);
        let prom = &ds["datasources"][0];
        prom["jsonData"]
            .as_mapping()
            .unwrap()
            .get(&Yaml::value_from_str("exemplarTraceIdDestinations"))
            .map(|d| d[0]["datasourceUid"].as_str().unwrap().to_owned())
    };
    assert_eq!(link(&opts()).as_deref(), Some("tempo"));
    let mut o = opts();
    o.without(&[Service::Tempo]).unwrap();
    assert_eq!(link(&o).as_deref(), Some("jaeger"));
    o.without(&[Service::Jaeger]).unwrap();
    assert_eq!(link(&o), None);
    let failures = file(&render(&o).unwrap(), "grafana/dashboards/recent-failures.json").contents.clone();
    assert!(!failures.contains("datasourceUid"), "no trace backend, no link");
}

#[test]
fn alertmanager_is_off_by_default_and_wired_in_when_asked_for() {
    let text = |files: &[crate::stack::RenderedFile], name: &str| {
        files.iter().find(|f| f.path.ends_with(name)).map(|f| f.contents.clone())
    };
    let default = render(&opts()).unwrap();
    assert!(text(&default, "alertmanager.yml").is_none());
    assert!(!text(&default, "docker-compose.yml").unwrap().contains("alertmanager"));
    assert!(!text(&default, ".env").unwrap().contains("ALERTMANAGER"));

    let mut o = opts();
    o.with(&[Service::Alertmanager]);
    let files = render(&o).unwrap();
    let compose = text(&files, "docker-compose.yml").unwrap();
    assert!(
        compose.contains("  alertmanager:\n    image: ${ALERTMANAGER_IMAGE:-prom/alertmanager:v0.28.1}"),
        "{compose}"
    );
    assert!(compose.contains("\"127.0.0.1:${ALERTMANAGER_PORT:-9093}:9093\""), "{compose}");
    let env = text(&files, ".env").unwrap();
    assert!(env.contains("ALERTMANAGER_IMAGE=prom/alertmanager:v0.28.1") && env.contains("ALERTMANAGER_PORT=9093"));
    let otelcol = text(&files, "otelcol/config.yaml").unwrap();
    assert!(otelcol.contains("  alert:\n    endpoint: http://alertmanager:9093"), "{otelcol}");
    assert!(
        otelcol.contains("spanmetrics, mysql, alert]") && otelcol.contains("exporters: [mysql, alert]"),
        "{otelcol}"
    );
    // the trace link opens the trace in Grafana's Explore on Tempo
    assert!(otelcol.contains("/explore?schemaVersion=1&panes=") && otelcol.contains("%22{{trace_id}}%22"), "{otelcol}");
    let ds = text(&files, "datasources/otelstack.yaml").unwrap();
    assert!(ds.contains("uid: alertmanager\n    type: alertmanager"), "{ds}");
    let am = text(&files, "alertmanager/alertmanager.yml").unwrap();
    assert!(am.contains("receiver: ui-only"), "{am}");

    // without Tempo or Grafana the link goes to Jaeger
    o.without(&[Service::Tempo]).unwrap();
    let otelcol = text(&render(&o).unwrap(), "otelcol/config.yaml").unwrap();
    assert!(otelcol.contains("trace_url_template: \"http://localhost:16686/trace/{{trace_id}}\""), "{otelcol}");
}

/// The drift check: the repository's checked-in stack is exactly the
/// templates' output (regenerate with `make stack-files`).
#[test]
fn checked_in_stack_matches_the_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for f in render(&StackOptions::checked_in()).unwrap() {
        match std::fs::read_to_string(root.join(&f.path)) {
            Ok(text) if text == f.contents => {}
            Ok(_) => stale.push(format!("{} differs", f.path.display())),
            Err(e) => stale.push(format!("{}: {e}", f.path.display())),
        }
    }
    assert!(stale.is_empty(), "checked-in stack files drifted from the templates (run `make stack-files`): {stale:#?}");
}
