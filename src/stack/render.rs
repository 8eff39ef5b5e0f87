//! Renders the embedded templates for one [`StackOptions`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use serde::Serialize;
use tera::{Context, Tera};

use super::marker::Marker;
use super::options::{Layout, Service, StackOptions};
use super::rendered_file::RenderedFile;

/// (template name, source). Dashboards whose JSON holds Grafana's own
/// `{{label}}` legends are copied verbatim instead of rendered (see FILES).
const TEMPLATES: &[(&str, &str)] = &[
    ("docker-compose.yml", include_str!("templates/docker-compose.yml.tera")),
    ("env", include_str!("templates/env.tera")),
    ("otelcol.yaml", include_str!("templates/otelcol.yaml.tera")),
    ("prometheus.yml", include_str!("templates/prometheus.yml.tera")),
    ("tempo.yaml", include_str!("templates/tempo.yaml.tera")),
    ("jaeger.yaml", include_str!("templates/jaeger.yaml.tera")),
    ("datasources.yaml", include_str!("templates/grafana/datasources.yaml.tera")),
    ("dashboards.yaml", include_str!("templates/grafana/dashboards.yaml.tera")),
    ("recent-failures.json", include_str!("templates/grafana/recent-failures.json.tera")),
    ("README.md", include_str!("templates/README.md.tera")),
    ("alertmanager.yml", include_str!("templates/alertmanager.yml.tera")),
];

const VERBATIM: &[(&str, &str)] = &[
    ("collector-health.json", include_str!("templates/grafana/collector-health.json")),
    ("service-red.json", include_str!("templates/grafana/service-red.json")),
    ("workshop.json", include_str!("templates/grafana/workshop.json")),
];

/// Where a file goes in each layout, and when it exists.
struct FileSpec {
    source: &'static str,
    project: &'static str,
    clone: &'static str,
    needs: Option<Service>,
    mode: u32,
}

const FILES: &[FileSpec] = &[
    FileSpec {
        source: "docker-compose.yml",
        project: "docker-compose.yml",
        clone: "compose/docker-compose.yml",
        needs: None,
        mode: 0o644,
    },
    FileSpec { source: "env", project: ".env", clone: "compose/.env", needs: None, mode: 0o600 },
    FileSpec {
        source: "otelcol.yaml",
        project: "otelcol/config.yaml",
        clone: "compose/otelcol/config.yaml",
        needs: None,
        mode: 0o644,
    },
    FileSpec {
        source: "prometheus.yml",
        project: "prometheus/prometheus.yml",
        clone: "compose/prometheus/prometheus.yml",
        needs: None,
        mode: 0o644,
    },
    FileSpec {
        source: "tempo.yaml",
        project: "tempo/tempo.yaml",
        clone: "compose/tempo/tempo.yaml",
        needs: Some(Service::Tempo),
        mode: 0o644,
    },
    FileSpec {
        source: "jaeger.yaml",
        project: "jaeger/config.yaml",
        clone: "compose/jaeger/config.yaml",
        needs: Some(Service::Jaeger),
        mode: 0o644,
    },
    FileSpec {
        source: "alertmanager.yml",
        project: "alertmanager/alertmanager.yml",
        clone: "compose/alertmanager/alertmanager.yml",
        needs: Some(Service::Alertmanager),
        mode: 0o644,
    },
    FileSpec {
        source: "datasources.yaml",
        project: "grafana/provisioning/datasources/otelstack.yaml",
        clone: "provisioning/datasources/otelstack.yaml",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec {
        source: "dashboards.yaml",
        project: "grafana/provisioning/dashboards/otelstack.yaml",
        clone: "provisioning/dashboards/otelstack.yaml",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec {
        source: "collector-health.json",
        project: "grafana/dashboards/collector-health.json",
        clone: "dashboards/collector-health.json",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec {
        source: "service-red.json",
        project: "grafana/dashboards/service-red.json",
        clone: "dashboards/service-red.json",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec {
        source: "workshop.json",
        project: "grafana/dashboards/workshop.json",
        clone: "dashboards/workshop.json",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec {
        source: "recent-failures.json",
        project: "grafana/dashboards/recent-failures.json",
        clone: "dashboards/recent-failures.json",
        needs: Some(Service::Grafana),
        mode: 0o644,
    },
    FileSpec { source: "README.md", project: "README.md", clone: "compose/README.md", needs: None, mode: 0o644 },
];

#[derive(Serialize)]
struct PortView {
    env: &'static str,
    default: u16,
    value: u16,
    bind: &'static str,
}

/// Renders every file of the stack for `opts`, the marker last.
pub fn render(opts: &StackOptions) -> Result<Vec<RenderedFile>> {
    opts.validate()?;
    let mut tera = Tera::default();
    tera.add_raw_templates(TEMPLATES.iter().copied()).context("an embedded stack template does not parse")?;
    tera.autoescape_on(vec![]);
    let ctx = context(opts);
    let mut out = Vec::new();
    for spec in FILES {
        if spec.needs.is_some_and(|s| !opts.has(s)) {
            continue;
        }
        let contents = match VERBATIM.iter().find(|(name, _)| *name == spec.source) {
            Some((_, text)) => (*text).to_owned(),
            None => {
                tera.render(spec.source, &ctx).with_context(|| format!("cannot render the {} template", spec.source))?
            }
        };
        let path = match opts.layout {
            Layout::Project => spec.project,
            Layout::Clone => spec.clone,
        };
        out.push(RenderedFile { path: PathBuf::from(path), contents: tidy(&contents), mode: spec.mode });
    }
    if opts.with_workshop {
        out.extend(super::workshop::render(opts));
    }
    let marker = Marker::new(opts, &out);
    out.push(RenderedFile { path: Marker::path(opts.layout), contents: marker.to_toml(), mode: 0o644 });
    Ok(out)
}

/// Templates with `{% if %}` blocks leave runs of blank lines; keep at most one.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn context(opts: &StackOptions) -> Context {
    let mut ctx = Context::new();
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("project_name", &opts.project_name);
    ctx.insert("clone", &(opts.layout == Layout::Clone));
    for s in Service::ALL {
        ctx.insert(format!("has_{}", s.name()), &opts.has(s));
    }
    // services off by default appear in .env only when selected, so the default output stays as it was
    let images: BTreeMap<&str, String> = Service::ALL
        .iter()
        .filter(|s| s.on_by_default() || opts.has(**s))
        .map(|s| (s.image_key(), opts.image(*s)))
        .collect();
    let default_images: BTreeMap<&str, String> =
        Service::ALL.iter().map(|s| (s.image_key(), s.default_image())).collect();
    ctx.insert("images", &images);
    ctx.insert("default_images", &default_images);
    let ports: BTreeMap<&str, PortView> = opts
        .published_ports()
        .into_iter()
        .map(|(p, v)| {
            (
                p.env,
                PortView {
                    env: p.env,
                    default: p.default,
                    value: v,
                    bind: if p.public { "0.0.0.0" } else { "127.0.0.1" },
                },
            )
        })
        .collect();
    ctx.insert("ports", &ports);
    ctx.insert(
        "secrets",
        &BTreeMap::from([
            ("grafana_admin_password", &opts.secrets.grafana_admin_password),
            ("mariadb_root_password", &opts.secrets.mariadb_root_password),
            ("mariadb_password", &opts.secrets.mariadb_password),
        ]),
    );
    ctx.insert("grafana_anonymous", &opts.grafana_anonymous);
    // Paths in the compose file are relative to the compose project directory.
    let (provisioning, dashboards) = match opts.layout {
        Layout::Project => ("./grafana/provisioning", "./grafana/dashboards"),
        Layout::Clone => ("../provisioning", "../dashboards"),
    };
    ctx.insert("provisioning_dir", provisioning);
    ctx.insert("dashboards_dir", dashboards);
    // Where a trace id links to: Tempo if present, else Jaeger, else nowhere.
    let trace_uid = if opts.has(Service::Tempo) {
        Some("tempo")
    } else if opts.has(Service::Jaeger) {
        Some("jaeger")
    } else {
        None
    };
    ctx.insert("trace_uid", &trace_uid);
    ctx
}
