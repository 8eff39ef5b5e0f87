//! Compiles the merged tree into a [`Config`]: every component section is
//! parsed by its factory, the service graph is checked, and all errors are
//! collected before returning.

use std::collections::{BTreeMap, BTreeSet};

use super::errors::{humanize_serde, suggest, ConfigError, ConfigErrors};
use super::node::Node;
use super::service::{PipelineId, ServiceSection};
use super::{Config, Pipeline};
use crate::component::{ComponentId, Factory, Kind, ParseError, Validate};
use crate::registry::Registry;

const TOP_LEVEL: [&str; 6] = ["receivers", "processors", "exporters", "connectors", "extensions", "service"];

pub(super) struct Compiler<'a> {
    root: &'a Node,
    broken: BTreeSet<(Kind, ComponentId)>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
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
            if let Some(note) = factory.deprecated {
                self.warnings.push(format!("{}: {note}", path.join(".")));
            }
            match (factory.parse)(value.to_json()) {
                Ok(cfg) => {
                    if let Err(invalid) = cfg.validate() {
                        let mut p = path.clone();
                        p.extend(invalid.path.split('.').filter(|s| !s.is_empty()).map(str::to_owned));
                        self.error(&p, invalid.message);
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

pub(super) fn compile(root: &Node, registry: &Registry, warnings: Vec<String>) -> Result<Config, ConfigErrors> {
    let mut c = Compiler { root, broken: BTreeSet::new(), errors: Vec::new(), warnings };
    if let Some(map) = root.as_map() {
        for (key, _) in map {
            if !TOP_LEVEL.contains(&key.as_str()) {
                let hint = suggest(key, TOP_LEVEL).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
                c.error(std::slice::from_ref(key), format!("unknown top-level section{hint}"));
            }
        }
    }
    let mut receivers = c.section(Kind::Receiver, &registry.receivers);
    let mut processors = c.section(Kind::Processor, &registry.processors);
    let mut exporters = c.section(Kind::Exporter, &registry.exporters);
    let mut extensions = c.section(Kind::Extension, &registry.extensions);
    let mut connectors = c.section(Kind::Connector, &registry.connectors);
    super::connectors::check_unique_ids(&mut c, &receivers, &exporters, &connectors);

    let service: ServiceSection = match root.get("service") {
        None => {
            c.error(&["service".into()], "missing; add a service section with at least one pipeline");
            ServiceSection::default()
        }
        Some(node) => match crate::component::parse_section(node.to_json()) {
            Ok(s) => s,
            Err(e) => {
                c.parse_error(&["service".into()], e);
                ServiceSection::default()
            }
        },
    };
    if root.get("service").is_some() && service.pipelines.is_empty() && c.errors.is_empty() {
        c.error(
            &["service".into(), "pipelines".into()],
            "no pipelines configured; add at least one (traces, metrics or logs)",
        );
    }

    let mut pipelines = Vec::new();
    let mut used: BTreeSet<(Kind, ComponentId)> = BTreeSet::new();
    for (key, p) in &service.pipelines {
        let path = ["service".to_owned(), "pipelines".to_owned(), key.clone()];
        let id = match PipelineId::parse(key) {
            Ok(id) => id,
            Err(e) => {
                c.error(&path, e);
                continue;
            }
        };
        let signal = id.signal;
        let mut resolve = |c: &mut Compiler,
                           kind: Kind,
                           names: &[String],
                           supports: &dyn Fn(&ComponentId) -> Option<Result<(), String>>| {
            let mut ids = Vec::new();
            let field = kind.section();
            if names.is_empty() && matches!(kind, Kind::Receiver | Kind::Exporter) {
                c.error(
                    &[&path[..], &[field.to_owned()]].concat(),
                    format!("a pipeline needs at least one {}", kind.noun()),
                );
            }
            for (i, name) in names.iter().enumerate() {
                let p = [&path[..], &[field.to_owned(), i.to_string()]].concat();
                let Ok(cid) = ComponentId::parse(name) else {
                    c.error(&p, format!("invalid {} id {name:?}", kind.noun()));
                    continue;
                };
                if c.broken.contains(&(kind, cid.clone())) || c.broken.contains(&(Kind::Connector, cid.clone())) {
                    continue;
                }
                match supports(&cid) {
                    None => c.error(&p, format!("references {} \"{name}\" which is not configured", kind.noun())),
                    Some(Err(message)) => c.error(&p, message),
                    Some(Ok(())) => {
                        if ids.contains(&cid) {
                            c.error(&p, format!("{} \"{name}\" is listed twice", kind.noun()));
                        }
                        used.insert((kind, cid.clone()));
                        ids.push(cid);
                    }
                }
            }
            ids
        };
        let plain = |kind: Kind, cid: &ComponentId, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("{} \"{cid}\" does not support {signal} pipelines", kind.noun()))
            }
        };
        let as_connector = |cid: &ComponentId, side: Kind| {
            connectors.get(cid).map(|(cfg, _)| super::connectors::supports_side(cid, cfg.pairs(), side, signal))
        };
        let rs = resolve(&mut c, Kind::Receiver, &p.receivers, &|cid| {
            receivers
                .get(cid)
                .map(|(_, i)| plain(Kind::Receiver, cid, registry.receivers[*i].supports(signal)))
                .or_else(|| as_connector(cid, Kind::Receiver))
        });
        let ps = resolve(&mut c, Kind::Processor, &p.processors, &|cid| {
            processors.get(cid).map(|(_, i)| plain(Kind::Processor, cid, registry.processors[*i].supports(signal)))
        });
        let es = resolve(&mut c, Kind::Exporter, &p.exporters, &|cid| {
            exporters
                .get(cid)
                .map(|(_, i)| plain(Kind::Exporter, cid, registry.exporters[*i].supports(signal)))
                .or_else(|| as_connector(cid, Kind::Exporter))
        });
        pipelines.push(Pipeline { id, receivers: rs, processors: ps, exporters: es });
    }

    let mut service_extensions = Vec::new();
    for (i, name) in service.extensions.iter().enumerate() {
        let path = ["service".to_owned(), "extensions".to_owned(), i.to_string()];
        match ComponentId::parse(name) {
            Ok(cid) if extensions.contains_key(&cid) => {
                used.insert((Kind::Extension, cid.clone()));
                service_extensions.push(cid);
            }
            Ok(_) => c.error(&path, format!("references extension \"{name}\" which is not configured")),
            Err(e) => c.error(&path, e),
        }
    }
    let pairs: BTreeMap<ComponentId, &'static [(crate::signal::Signal, crate::signal::Signal)]> =
        connectors.iter().map(|(id, (cfg, _))| (id.clone(), cfg.pairs())).collect();
    for id in super::connectors::check_links(&mut c, &pairs, &pipelines) {
        used.insert((Kind::Connector, id));
    }
    let sections = super::references::Sections {
        receivers: &receivers,
        exporters: &exporters,
        extensions: &extensions,
        enabled: &service_extensions,
    };
    super::references::check(&mut c, registry, &sections);

    for (kind, ids) in [
        (Kind::Receiver, receivers.keys().cloned().collect::<Vec<_>>()),
        (Kind::Processor, processors.keys().cloned().collect()),
        (Kind::Exporter, exporters.keys().cloned().collect()),
        (Kind::Extension, extensions.keys().cloned().collect()),
        (Kind::Connector, connectors.keys().cloned().collect()),
    ] {
        for id in ids {
            if !used.contains(&(kind, id.clone())) {
                c.warnings.push(format!(
                    "{}.{id}: {} is configured but not used by any pipeline",
                    kind.section(),
                    kind.noun()
                ));
            }
        }
    }

    if !c.errors.is_empty() {
        return Err(ConfigErrors(c.errors));
    }
    let keep = |kind: Kind, id: &ComponentId| used.contains(&(kind, id.clone()));
    receivers.retain(|id, _| keep(Kind::Receiver, id));
    processors.retain(|id, _| keep(Kind::Processor, id));
    exporters.retain(|id, _| keep(Kind::Exporter, id));
    extensions.retain(|id, _| keep(Kind::Extension, id));
    connectors.retain(|id, _| keep(Kind::Connector, id));
    Ok(Config {
        receivers: receivers.into_iter().map(|(k, (v, _))| (k, v)).collect(),
        processors: processors.into_iter().map(|(k, (v, _))| (k, v)).collect(),
        exporters: exporters.into_iter().map(|(k, (v, _))| (k, v)).collect(),
        extensions: extensions.into_iter().map(|(k, (v, _))| (k, v)).collect(),
        connectors: connectors.into_iter().map(|(k, (v, _))| (k, v)).collect(),
        pipelines,
        service_extensions,
        telemetry: service.telemetry,
        warnings: c.warnings,
    })
}
