//! Compiles the merged tree into a [`Config`]: every component section is
//! parsed by its factory, the service graph is checked, and all errors are
//! collected before returning.

use std::collections::{BTreeMap, BTreeSet};

use super::compiled::{Config, Pipeline};
use super::compiler::{Compiler, Parsed, Sectioned, Used};
use super::errors::{suggest, ConfigErrors};
use super::node::Node;
use super::service::ServiceSection;
use crate::component::{ComponentId, Kind};
use crate::registry::Registry;

const TOP_LEVEL: [&str; 6] = ["receivers", "processors", "exporters", "connectors", "extensions", "service"];

pub(super) fn compile(root: &Node, registry: &Registry, warnings: Vec<String>) -> Result<Config, ConfigErrors> {
    let mut c = Compiler { root, broken: BTreeSet::new(), errors: Vec::new(), warnings, files: Vec::new() };
    c.check_top_level();
    let parsed = Parsed {
        receivers: c.section(Kind::Receiver, &registry.receivers),
        processors: c.section(Kind::Processor, &registry.processors),
        exporters: c.section(Kind::Exporter, &registry.exporters),
        extensions: c.section(Kind::Extension, &registry.extensions),
        connectors: c.section(Kind::Connector, &registry.connectors),
    };
    super::connectors::check_unique_ids(&mut c, &parsed.receivers, &parsed.exporters, &parsed.connectors);
    let service = c.service_section();
    let mut used = Used::new();
    let pipelines = super::pipelines::resolve(&mut c, registry, &parsed, &service, &mut used);
    let service_extensions = c.service_extensions(&service, &parsed, &mut used);
    let pairs = parsed.connectors.iter().map(|(id, (cfg, _))| (id.clone(), cfg.pairs())).collect();
    used.extend(super::connectors::check_links(&mut c, &pairs, &pipelines).into_iter().map(|id| (Kind::Connector, id)));
    let sections = super::references::Sections {
        receivers: &parsed.receivers,
        exporters: &parsed.exporters,
        extensions: &parsed.extensions,
        enabled: &service_extensions,
    };
    super::references::check(&mut c, registry, &sections);
    c.warn_unused(&parsed, &used);
    if !c.errors.is_empty() {
        return Err(ConfigErrors(c.errors));
    }
    let needed_files = c
        .files
        .into_iter()
        .filter(|(kind, id, _)| used.contains(&(*kind, id.clone())))
        .map(|(kind, id, mut needed)| {
            needed.path = format!("{}.{id}.{}", kind.section(), needed.path);
            needed
        })
        .collect();
    let mut config = parsed.into_config(&used, pipelines, service_extensions, service.telemetry, c.warnings);
    config.needed_files = needed_files;
    Ok(config)
}

impl Compiler<'_> {
    fn check_top_level(&mut self) {
        let Some(map) = self.root.as_map() else { return };
        for (key, _) in map {
            if !TOP_LEVEL.contains(&key.as_str()) {
                let hint = suggest(key, TOP_LEVEL).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
                self.error(std::slice::from_ref(key), format!("unknown top-level section{hint}"));
            }
        }
    }

    fn service_section(&mut self) -> ServiceSection {
        let service: ServiceSection = match self.root.get("service") {
            None => {
                self.error(&["service".into()], "missing; add a service section with at least one pipeline");
                return ServiceSection::default();
            }
            Some(node) => match crate::component::parse_section(node.to_json()) {
                Ok(s) => s,
                Err(e) => {
                    self.parse_error(&["service".into()], e);
                    return ServiceSection::default();
                }
            },
        };
        for (path, why) in service.telemetry.check() {
            let mut p = vec!["service".to_owned(), "telemetry".to_owned()];
            p.extend(path.split('.').map(str::to_owned));
            self.error(&p, why);
        }
        if service.pipelines.is_empty() && self.errors.is_empty() {
            self.error(
                &["service".into(), "pipelines".into()],
                "no pipelines configured; add at least one (traces, metrics or logs)",
            );
        }
        service
    }

    /// `service.extensions`: each must be configured.
    fn service_extensions(&mut self, service: &ServiceSection, parsed: &Parsed, used: &mut Used) -> Vec<ComponentId> {
        let mut enabled = Vec::new();
        for (i, name) in service.extensions.iter().enumerate() {
            let path = ["service".to_owned(), "extensions".to_owned(), i.to_string()];
            match ComponentId::parse(name) {
                Ok(cid) if parsed.extensions.contains_key(&cid) => {
                    used.insert((Kind::Extension, cid.clone()));
                    enabled.push(cid);
                }
                Ok(_) => self.error(&path, format!("references extension \"{name}\" which is not configured")),
                Err(e) => self.error(&path, e),
            }
        }
        enabled
    }

    fn warn_unused(&mut self, parsed: &Parsed, used: &Used) {
        fn ids<C: ?Sized>(kind: Kind, section: &Sectioned<C>) -> impl Iterator<Item = (Kind, ComponentId)> + '_ {
            section.keys().map(move |id| (kind, id.clone()))
        }
        let all = ids(Kind::Receiver, &parsed.receivers)
            .chain(ids(Kind::Processor, &parsed.processors))
            .chain(ids(Kind::Exporter, &parsed.exporters))
            .chain(ids(Kind::Extension, &parsed.extensions))
            .chain(ids(Kind::Connector, &parsed.connectors));
        for (kind, id) in all {
            if !used.contains(&(kind, id.clone())) {
                self.warnings.push(format!(
                    "{}.{id}: {} is configured but not used by any pipeline",
                    kind.section(),
                    kind.noun()
                ));
            }
        }
    }
}

impl Parsed {
    /// The validated config, keeping only what is used.
    fn into_config(
        self,
        used: &Used,
        pipelines: Vec<Pipeline>,
        service_extensions: Vec<ComponentId>,
        telemetry: super::service::TelemetryConfig,
        warnings: Vec<String>,
    ) -> Config {
        fn keep<C: ?Sized>(kind: Kind, used: &Used, section: Sectioned<C>) -> BTreeMap<ComponentId, Box<C>> {
            section.into_iter().filter(|(id, _)| used.contains(&(kind, id.clone()))).map(|(k, (v, _))| (k, v)).collect()
        }
        Config {
            receivers: keep(Kind::Receiver, used, self.receivers),
            processors: keep(Kind::Processor, used, self.processors),
            exporters: keep(Kind::Exporter, used, self.exporters),
            extensions: keep(Kind::Extension, used, self.extensions),
            connectors: keep(Kind::Connector, used, self.connectors),
            pipelines,
            service_extensions,
            telemetry,
            warnings,
            needed_files: Vec::new(),
        }
    }
}
