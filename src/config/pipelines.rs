//! Resolves `service.pipelines`: each entry's id gives its signal, and each
//! receiver, processor and exporter it lists must be configured (or be a
//! connector on a side it can take), support the signal and appear once.

use super::compiled::Pipeline;
use super::compiler::{Compiler, Parsed, Used};
use super::service::{PipelineId, PipelineSection, ServiceSection};
use crate::component::{ComponentId, Kind};
use crate::registry::Registry;
use crate::signal::Signal;

/// The pipelines, in the order of the section; errors go to `c`.
pub(super) fn resolve(
    c: &mut Compiler,
    registry: &Registry,
    parsed: &Parsed,
    service: &ServiceSection,
    used: &mut Used,
) -> Vec<Pipeline> {
    let mut pipelines = Vec::new();
    for (key, section) in &service.pipelines {
        let path = vec!["service".to_owned(), "pipelines".to_owned(), key.clone()];
        match PipelineId::parse(key) {
            Ok(id) => {
                pipelines.push(Resolver { c, registry, parsed, used, path, signal: id.signal }.pipeline(id, section))
            }
            Err(e) => c.error(&path, e),
        }
    }
    pipelines
}

/// One pipeline entry being resolved.
struct Resolver<'c, 'r, 'n> {
    c: &'c mut Compiler<'n>,
    registry: &'r Registry,
    parsed: &'r Parsed,
    used: &'c mut Used,
    path: Vec<String>,
    signal: Signal,
}

impl Resolver<'_, '_, '_> {
    fn pipeline(mut self, id: PipelineId, section: &PipelineSection) -> Pipeline {
        let receivers = self.list(Kind::Receiver, &section.receivers);
        let processors = self.list(Kind::Processor, &section.processors);
        let exporters = self.list(Kind::Exporter, &section.exporters);
        Pipeline { id, receivers, processors, exporters }
    }

    /// The ids of one list (`receivers`, `processors` or `exporters`).
    fn list(&mut self, kind: Kind, names: &[String]) -> Vec<ComponentId> {
        let field = kind.section().to_owned();
        let mut ids = Vec::new();
        if names.is_empty() && matches!(kind, Kind::Receiver | Kind::Exporter) {
            let at = [&self.path[..], std::slice::from_ref(&field)].concat();
            self.c.error(&at, format!("a pipeline needs at least one {}", kind.noun()));
        }
        for (i, name) in names.iter().enumerate() {
            let at = [&self.path[..], &[field.clone(), i.to_string()]].concat();
            let Ok(cid) = ComponentId::parse(name) else {
                self.c.error(&at, format!("invalid {} id {name:?}", kind.noun()));
                continue;
            };
            if self.c.is_broken(kind, &cid) || self.c.is_broken(Kind::Connector, &cid) {
                continue;
            }
            match self.supports(kind, &cid) {
                None => self.c.error(&at, format!("references {} \"{name}\" which is not configured", kind.noun())),
                Some(Err(message)) => self.c.error(&at, message),
                Some(Ok(())) => {
                    if ids.contains(&cid) {
                        self.c.error(&at, format!("{} \"{name}\" is listed twice", kind.noun()));
                    }
                    if kind == Kind::Processor {
                        self.validate_for_signal(&cid);
                    }
                    self.used.insert((kind, cid.clone()));
                    ids.push(cid);
                }
            }
        }
        ids
    }

    /// A processor's checks that depend on this pipeline's signal, reported
    /// at the processor's own keys with the pipeline named.
    fn validate_for_signal(&mut self, cid: &ComponentId) {
        let Some((cfg, _)) = self.parsed.processors.get(cid) else { return };
        if let Err(invalid) = cfg.validate_for(self.signal) {
            let mut at = vec!["processors".to_owned(), cid.to_string()];
            at.extend(invalid.path.split('.').filter(|s| !s.is_empty()).map(str::to_owned));
            let pipeline = self.path.last().cloned().unwrap_or_default();
            self.c.error(&at, format!("{} (in pipeline \"{pipeline}\")", invalid.message));
        }
    }

    /// `None` when `cid` is not configured as `kind` (or as a connector on
    /// that side); else whether it takes this pipeline's signal.
    fn supports(&self, kind: Kind, cid: &ComponentId) -> Option<Result<(), String>> {
        let (signal, p, r) = (self.signal, self.parsed, self.registry);
        let factory_supports = match kind {
            Kind::Receiver => p.receivers.get(cid).map(|(_, i)| r.receivers[*i].supports(signal)),
            Kind::Processor => p.processors.get(cid).map(|(_, i)| r.processors[*i].supports(signal)),
            Kind::Exporter => p.exporters.get(cid).map(|(_, i)| r.exporters[*i].supports(signal)),
            Kind::Connector | Kind::Extension => None,
        };
        match factory_supports {
            Some(true) => Some(Ok(())),
            Some(false) => Some(Err(format!("{} \"{cid}\" does not support {signal} pipelines", kind.noun()))),
            None if kind == Kind::Processor => None,
            None => {
                p.connectors.get(cid).map(|(cfg, _)| super::connectors::supports_side(cid, cfg.pairs(), kind, signal))
            }
        }
    }
}
