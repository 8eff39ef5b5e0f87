//! Checks every reference from a component to an extension on the typed
//! configs: each receiver and exporter says which extensions it names and
//! what they must offer (`extension_refs`), each extension says what it
//! offers (`offers`), and an exporter says whether it has a sending queue.
//! No component type is named here.

use std::collections::{BTreeMap, BTreeSet};

use super::compiler::Compiler;
use crate::component::{ComponentId, ExporterConfig, ExtensionConfig, Kind, ReceiverConfig};
use crate::registry::Registry;
use crate::runtime::{Capability, ExtensionRef};

type Parsed<C> = BTreeMap<ComponentId, (Box<C>, usize)>;

/// The typed sections whose references are checked.
pub(super) struct Sections<'a> {
    pub receivers: &'a Parsed<dyn ReceiverConfig>,
    pub exporters: &'a Parsed<dyn ExporterConfig>,
    pub extensions: &'a Parsed<dyn ExtensionConfig>,
    pub enabled: &'a [ComponentId],
}

/// Every `auth.authenticator` and `sending_queue.storage` must name an
/// extension that is configured, offers what is needed and is listed in
/// `service.extensions`, as otelcol requires; a storage needs an exporter
/// with a sending queue.
pub(super) fn check(c: &mut Compiler, registry: &Registry, s: &Sections) {
    let mut refs: Vec<(Kind, &ComponentId, ExtensionRef, bool)> = Vec::new();
    for (id, (cfg, _)) in s.receivers {
        refs.extend(cfg.extension_refs().into_iter().map(|r| (Kind::Receiver, id, r, false)));
    }
    for (id, (cfg, _)) in s.exporters {
        refs.extend(cfg.extension_refs().into_iter().map(|r| (Kind::Exporter, id, r, cfg.has_sending_queue())));
    }
    for (kind, owner, r, has_queue) in refs {
        let path: Vec<String> = [kind.section().to_owned(), owner.to_string()]
            .into_iter()
            .chain(r.path.split('.').map(str::to_owned))
            .collect();
        let name = &r.id;
        let message = match ComponentId::parse(name) {
            // the exporter's own `sending_queue`; a nested one (loadbalancing's
            // `protocol.otlp.sending_queue`) belongs to what it builds
            _ if r.path == "sending_queue.storage" && kind == Kind::Exporter && !has_queue => {
                format!("the {} exporter has no sending queue; remove storage", owner.type_name)
            }
            Err(e) => e,
            Ok(id) if c.is_broken(Kind::Extension, &id) => continue,
            Ok(id) if !s.extensions.contains_key(&id) => format!(
                "references extension \"{name}\" which is not configured; declare it under extensions and list it in service.extensions"
            ),
            Ok(id) if !s.extensions[&id].0.offers().contains(&r.needs) => {
                format!("extension \"{name}\" is not {}; use {}", r.needs, offering(registry, r.needs))
            }
            Ok(id) if !s.enabled.contains(&id) => {
                format!("extension \"{name}\" is not listed in service.extensions; add it there")
            }
            Ok(_) => continue,
        };
        c.error(&path, message);
    }
}

/// The extension types that offer `capability`, asked of their defaults.
fn offering(registry: &Registry, capability: Capability) -> String {
    let types: BTreeSet<&str> = registry
        .extensions
        .iter()
        .filter(|f| (f.parse)(serde_json::Value::Null).is_ok_and(|cfg| cfg.offers().contains(&capability)))
        .map(|f| f.type_name)
        .collect();
    let types: Vec<&str> = types.into_iter().collect();
    match types.split_last() {
        None => "another extension".into(),
        Some((last, [])) => format!("a {last} extension"),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
#[path = "references_tests.rs"]
mod tests;
