//! What a stack is made of: services, published ports, image overrides,
//! secrets and the directory layout. `stackctl init` fills [`StackOptions`]
//! from its flags; the marker file records them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use super::secrets::Secrets;
use super::versions;

/// A compose service. `collector`, `prometheus` and `mariadb` are the core
/// (always present: the collector's metrics and failure store need them);
/// `tempo`, `jaeger` and `grafana` are optional and on by default;
/// `alertmanager` is optional and off unless asked for (`--with alertmanager`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Collector,
    Prometheus,
    Mariadb,
    Tempo,
    Jaeger,
    Grafana,
    Alertmanager,
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Collector,
        Service::Prometheus,
        Service::Mariadb,
        Service::Tempo,
        Service::Jaeger,
        Service::Grafana,
        Service::Alertmanager,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Collector => "collector",
            Service::Prometheus => "prometheus",
            Service::Mariadb => "mariadb",
            Service::Tempo => "tempo",
            Service::Jaeger => "jaeger",
            Service::Grafana => "grafana",
            Service::Alertmanager => "alertmanager",
        }
    }

    pub fn is_optional(self) -> bool {
        matches!(self, Service::Tempo | Service::Jaeger | Service::Grafana | Service::Alertmanager)
    }

    /// Selected when `init` is not told otherwise.
    pub fn on_by_default(self) -> bool {
        self != Service::Alertmanager
    }

    /// The `.env` key holding this service's image.
    pub fn image_key(self) -> &'static str {
        match self {
            Service::Collector => "COLLECTOR_IMAGE",
            Service::Prometheus => "PROMETHEUS_IMAGE",
            Service::Mariadb => "MARIADB_IMAGE",
            Service::Tempo => "TEMPO_IMAGE",
            Service::Jaeger => "JAEGER_IMAGE",
            Service::Grafana => "GRAFANA_IMAGE",
            Service::Alertmanager => "ALERTMANAGER_IMAGE",
        }
    }

    /// The pinned image (see [`versions`]).
    pub fn default_image(self) -> String {
        match self {
            Service::Collector => versions::collector(),
            Service::Prometheus => versions::PROMETHEUS.into(),
            Service::Mariadb => versions::MARIADB.into(),
            Service::Tempo => versions::TEMPO.into(),
            Service::Jaeger => versions::JAEGER.into(),
            Service::Grafana => versions::GRAFANA.into(),
            Service::Alertmanager => versions::ALERTMANAGER.into(),
        }
    }

    pub fn parse(name: &str) -> Result<Service> {
        let name = name.trim().to_ascii_lowercase();
        match Service::ALL.iter().find(|s| s.name() == name) {
            Some(s) => Ok(*s),
            None => bail!(
                "\"{name}\" is not a service of the stack; the services are {}",
                Service::ALL.map(Service::name).join(", ")
            ),
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A host port the stack publishes: its `.env` key, the short name used by
/// `stackctl init --port NAME=PORT`, its default, and whether it is bound on
/// every interface (OTLP, so containers of other compose projects reach it
/// through `host.docker.internal`) or on 127.0.0.1 only (UIs and databases).
#[derive(Debug, Clone, Copy)]
pub struct PortSpec {
    pub env: &'static str,
    pub name: &'static str,
    pub default: u16,
    pub public: bool,
    pub service: Service,
}

pub const PORTS: [PortSpec; 11] = [
    PortSpec { env: "OTLP_GRPC_PORT", name: "otlp-grpc", default: 4317, public: true, service: Service::Collector },
    PortSpec { env: "OTLP_HTTP_PORT", name: "otlp-http", default: 4318, public: true, service: Service::Collector },
    PortSpec {
        env: "COLLECTOR_METRICS_PORT",
        name: "collector-metrics",
        default: 8888,
        public: false,
        service: Service::Collector,
    },
    PortSpec {
        env: "COLLECTOR_PROM_PORT",
        name: "collector-prom",
        default: 8889,
        public: false,
        service: Service::Collector,
    },
    PortSpec {
        env: "COLLECTOR_HEALTH_PORT",
        name: "collector-health",
        default: 13133,
        public: false,
        service: Service::Collector,
    },
    PortSpec { env: "PROMETHEUS_PORT", name: "prometheus", default: 9090, public: false, service: Service::Prometheus },
    PortSpec { env: "MARIADB_PORT", name: "mariadb", default: 3306, public: false, service: Service::Mariadb },
    PortSpec { env: "TEMPO_PORT", name: "tempo", default: 3200, public: false, service: Service::Tempo },
    PortSpec { env: "JAEGER_UI_PORT", name: "jaeger-ui", default: 16686, public: false, service: Service::Jaeger },
    PortSpec { env: "GRAFANA_PORT", name: "grafana", default: 3000, public: false, service: Service::Grafana },
    PortSpec {
        env: "ALERTMANAGER_PORT",
        name: "alertmanager",
        default: 9093,
        public: false,
        service: Service::Alertmanager,
    },
];

/// Where the files go. `Project` is what `stackctl init DIR` writes (all in
/// DIR); `Clone` is the repository's checked-in layout: `compose/` holds the
/// compose project and refers to `../provisioning` and `../dashboards`, and
/// the collector service has a `build:` of the root `Dockerfile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Project,
    Clone,
}

/// Everything [`super::render`] needs.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The compose project name (`COMPOSE_PROJECT_NAME`): lowercase letters,
    /// digits, `-` and `_`, starting with a letter or digit.
    pub project_name: String,
    /// The selected services (always includes the core ones).
    pub services: BTreeSet<Service>,
    /// Host ports by `.env` key; keys missing here take their default.
    pub ports: BTreeMap<String, u16>,
    /// Image overrides by service; the others use the pinned versions.
    pub images: BTreeMap<Service, String>,
    pub secrets: Secrets,
    pub layout: Layout,
    /// Turn on Grafana's anonymous (Viewer) access; off by default.
    pub grafana_anonymous: bool,
    /// Also write the workshop's demo apps under `workshop/` (see [`super::workshop`]).
    pub with_workshop: bool,
}

impl StackOptions {
    /// The default services, ports and images, the given secrets.
    pub fn new(project_name: &str, secrets: Secrets) -> StackOptions {
        StackOptions {
            project_name: project_name.to_owned(),
            services: Service::ALL.into_iter().filter(|s| s.on_by_default()).collect(),
            ports: BTreeMap::new(),
            images: BTreeMap::new(),
            secrets,
            layout: Layout::Project,
            grafana_anonymous: false,
            with_workshop: false,
        }
    }

    /// The repository's checked-in stack (`compose/`, `provisioning/`, `dashboards/`).
    pub fn checked_in() -> StackOptions {
        StackOptions { layout: Layout::Clone, ..StackOptions::new("otelstack", Secrets::dev()) }
    }

    /// Drops optional services; naming a core service is an error that says why.
    pub fn without(&mut self, names: &[Service]) -> Result<()> {
        for s in names {
            if !s.is_optional() {
                bail!(
                    "the {s} service cannot be left out: collector, prometheus and mariadb are the core of the stack; \
                     only tempo, jaeger, grafana and alertmanager are optional"
                );
            }
            self.services.remove(s);
        }
        Ok(())
    }

    /// Adds optional services that are off by default (alertmanager).
    pub fn with(&mut self, names: &[Service]) {
        self.services.extend(names.iter().copied());
    }

    pub fn has(&self, s: Service) -> bool {
        self.services.contains(&s)
    }

    pub fn port(&self, env: &str) -> u16 {
        self.ports.get(env).copied().unwrap_or_else(|| PORTS.iter().find(|p| p.env == env).map_or(0, |p| p.default))
    }

    pub fn image(&self, s: Service) -> String {
        self.images.get(&s).cloned().unwrap_or_else(|| s.default_image())
    }

    /// The ports this selection publishes (one entry per `.env` key).
    pub fn published_ports(&self) -> Vec<(PortSpec, u16)> {
        PORTS.iter().filter(|p| self.has(p.service)).map(|p| (*p, self.port(p.env))).collect()
    }

    /// Checks what the flags cannot: the name's syntax and port clashes.
    pub fn validate(&self) -> Result<()> {
        let name = &self.project_name;
        let ok_start = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok_start || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            bail!(
                "\"{name}\" cannot be a compose project name: use lowercase letters, digits, '-' and '_', \
                 starting with a letter or digit (for example --name my-stack)"
            );
        }
        let mut by_port: BTreeMap<u16, &str> = BTreeMap::new();
        for (spec, port) in self.published_ports() {
            if port == 0 {
                bail!("port {} cannot be 0: pick a free host port with --port {}=PORT", spec.env, spec.name);
            }
            if let Some(other) = by_port.insert(port, spec.env) {
                bail!(
                    "{other} and {} are both set to port {port}: each published port must differ; \
                     change one with --port NAME=PORT",
                    spec.env
                );
            }
        }
        for (service, image) in &self.images {
            if image.trim().is_empty() || image.contains(char::is_whitespace) {
                bail!(
                    "the image for {service} (\"{image}\") is not an image reference such as {}",
                    service.default_image()
                );
            }
        }
        Ok(())
    }
}

/// Looks up a port by its `--port` name or `.env` key.
pub fn port_spec(name: &str) -> Option<&'static PortSpec> {
    let lower = name.to_ascii_lowercase();
    PORTS.iter().find(|p| p.name == lower || p.env.eq_ignore_ascii_case(name))
}
