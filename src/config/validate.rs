//! Compiles the merged tree into a [`Config`]: every component section is
//! parsed by its factory, the service graph is checked, and all errors are
//! collected before returning.

use std::collections::{BTreeMap, BTreeSet};

use super::errors::{humanize_serde, suggest, ConfigError, ConfigErrors};
use super::node::Node;
use super::service::ServiceSection;
use super::{Config, Pipeline};
use crate::component::{
    ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, Factory, Kind, NeededFile, ParseError,
    ProcessorConfig, ReceiverConfig, Validate,
};
use crate::registry::Registry;

const TOP_LEVEL: [&str; 6] = ["receivers", "processors", "exporters", "connectors", "extensions", "service"];

pub(super) struct Compiler<'a> {
    root: &'a Node,
    broken: BTreeSet<(Kind, ComponentId)>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
    /// the deployment's files each component reads at start
    files: Vec<(Kind, ComponentId, NeededFile)>,
}

impl Compiler<'_> {
    pub(super) fn error(&mut self, path: &[String], message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.join("."),
            pos: self.root.position_of(path),
            message: message.into(),
        });
    }

    pub(super) fn is_broken(&self, kind: Kind, id: &ComponentId) -> bool {
        self.broken.contains(&(kind, id.clone()))
    }

    fn parse_error(&mut self, base: &[String], err: ParseError) {
        let mut path: Vec<String> = base.to_vec();
        for seg in err.path().iter() {
            use serde_path_to_error::Segment;
            match seg {
                Segment::Seq { index } => path.push(index.to_string()),
                Segment::Map { key } => path.push(key.clone()),
                Segment::Enum { variant } => path.push(variant.clone()),
                Segment::Unknown => {}
            }
        }
        let message = humanize_serde(&err.inner().to_string());
        self.error(&path, message);
    }

    /// A missing file is only a warning here: configs are validated where
    /// the deployment's secrets are not (CI), as otelcol allows.
    fn check_file(&mut self, base: &[String], needed: &NeededFile) {
        let Some(problem) = needed.problem() else { return };
        let mut path = base.to_vec();
        path.extend(needed.path.split('.').map(str::to_owned));
        let at = self.root.position_of(&path).map(|p| format!(" (at {p})")).unwrap_or_default();
        self.warnings.push(format!(
            "{}: {problem}; validate accepts this, but the collector will refuse to start until it exists{at}",
            path.join(".")
        ));
    }

    /// Parses every entry of one section with its factory.
    fn section<C: ?Sized + Validate>(
        &mut self,
        kind: Kind,
        factories: &[Factory<C>],
    ) -> BTreeMap<ComponentId, (Box<C>, usize)> {
        let mut out = BTreeMap::new();
        let Some(node) = self.root.get(kind.section()) else { return out };
        if node.is_null() {
            return out;
        }
        let Some(entries) = node.as_map() else {
            self.error(&[kind.section().into()], "must be a mapping of component ids to their settings");
            return out;
        };
        for (key, value) in entries {
            let path = vec![kind.section().to_owned(), key.clone()];
            let id = match ComponentId::parse(key) {
                Ok(id) => id,
                Err(e) => {
                    self.error(&path, e);
                    continue;
                }
            };
            let Some((index, factory)) = factories.iter().enumerate().find(|(_, f)| f.type_name == id.type_name) else {
                self.broken.insert((kind, id.clone()));
                let known: Vec<&str> = factories.iter().map(|f| f.type_name).collect();
                let hint = match suggest(&id.type_name, known.iter().copied()) {
                    Some(s) => format!("; did you mean '{s}'?"),
                    None if known.is_empty() => format!("; otelstack-collector has no {}s yet", kind.noun()),
                    None => format!("; supported: {}", known.join(", ")),
                };
                self.error(&path, format!("unknown {} type \"{}\"{hint}", kind.noun(), id.type_name));
                continue;
            };
            // once per type: `loki` and `loki/b` share one note
            if let Some(note) = factory.deprecated.filter(|n| !self.warnings.iter().any(|w| w.ends_with(n))) {
                self.warnings.push(format!("{}: {note}", path.join(".")));
            }
            match (factory.parse)(value.to_json()) {
                Ok(cfg) => {
                    if let Err(invalid) = cfg.validate() {
                        let mut p = path.clone();
                        p.extend(invalid.path.split('.').filter(|s| !s.is_empty()).map(str::to_owned));
                        self.error(&p, invalid.message);
                    }
                    for needed in cfg.needed_files() {
                        self.check_file(&path, &needed);
                        self.files.push((kind, id.clone(), needed));
                    }
                    out.insert(id, (cfg, index));
                }
                Err(e) => {
                    self.broken.insert((kind, id));
                    self.parse_error(&path, e);
                }
            }
        }
        out
    }
}

/// The component sections, parsed by their factories, with each entry's
/// factory index.
pub(super) struct Parsed {
    pub receivers: Sectioned<dyn ReceiverConfig>,
    pub processors: Sectioned<dyn ProcessorConfig>,
    pub exporters: Sectioned<dyn ExporterConfig>,
    pub extensions: Sectioned<dyn ExtensionConfig>,
    pub connectors: Sectioned<dyn ConnectorConfig>,
}

pub(super) type Sectioned<C> = BTreeMap<ComponentId, (Box<C>, usize)>;

/// Components a pipeline or `service.extensions` uses; the rest is warned
/// about and dropped.
pub(super) type Used = BTreeSet<(Kind, ComponentId)>;

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
