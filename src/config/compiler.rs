//! The state of one compilation, shared by the checks of `validate`,
//! `pipelines`, `connectors` and `references`: the tree, the components that
//! failed to parse, and every error and warning found so far, plus the
//! component sections as their factories parsed them.

use std::collections::{BTreeMap, BTreeSet};

use super::errors::{humanize_serde, suggest, ConfigError};
use super::node::Node;
use crate::component::{
    ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, Factory, Kind, NeededFile, ParseError,
    ProcessorConfig, ReceiverConfig, Validate,
};

pub(super) struct Compiler<'a> {
    pub(super) root: &'a Node,
    pub(super) broken: BTreeSet<(Kind, ComponentId)>,
    pub(super) errors: Vec<ConfigError>,
    pub(super) warnings: Vec<String>,
    /// the deployment's files each component reads at start
    pub(super) files: Vec<(Kind, ComponentId, NeededFile)>,
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

    pub(super) fn parse_error(&mut self, base: &[String], err: ParseError) {
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

    pub(super) fn section<C: ?Sized + Validate>(
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
