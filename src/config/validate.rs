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
    let configured: BTreeSet<ComponentId> = extensions.keys().cloned().collect();
    check_authenticators(&mut c, &configured, &service_extensions);
    check_storages(&mut c, &configured, &service_extensions);

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

/// `auth.authenticator` anywhere in a receiver or exporter must name an
/// authenticator extension that is configured and listed in
/// `service.extensions`, as otelcol requires.
fn check_authenticators(c: &mut Compiler, configured: &BTreeSet<ComponentId>, enabled: &[ComponentId]) {
    fn find(node: &Node, path: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        for (key, value) in node.as_map().unwrap_or_default() {
            let mut p = path.clone();
            p.push(key.clone());
            if key != "auth" {
                find(value, p, out);
            } else if let Some(serde_json::Value::String(name)) = value.get("authenticator").map(Node::to_json) {
                p.push("authenticator".into());
                out.push((p, name));
            }
        }
    }
    let mut refs = Vec::new();
    for section in ["receivers", "exporters"] {
        if let Some(node) = c.root.get(section) {
            find(node, vec![section.to_owned()], &mut refs);
        }
    }
    for (path, name) in refs {
        let message = match ComponentId::parse(&name) {
            Err(e) => e,
            Ok(id) if c.broken.contains(&(Kind::Extension, id.clone())) => continue,
            Ok(id) if !configured.contains(&id) => format!(
                "references extension \"{name}\" which is not configured; declare it under extensions and list it in service.extensions"
            ),
            Ok(id) if !["bearertokenauth", "basicauth"].contains(&id.type_name.as_str()) => {
                format!("extension \"{name}\" is not an authenticator; use bearertokenauth or basicauth")
            }
            Ok(id) if !enabled.contains(&id) => {
                format!("extension \"{name}\" is not listed in service.extensions; add it there")
            }
            Ok(_) => continue,
        };
        c.error(&path, message);
    }
}

/// Exporters that can keep their sending queue in a `file_storage` extension.
const PERSISTENT_QUEUE_EXPORTERS: [&str; 4] = ["otlp", "otlp_grpc", "otlphttp", "otlp_http"];

/// `sending_queue.storage` must name a `file_storage` extension that is
/// configured and listed in `service.extensions`.
fn check_storages(c: &mut Compiler, configured: &BTreeSet<ComponentId>, enabled: &[ComponentId]) {
    let Some(exporters) = c.root.get("exporters").and_then(Node::as_map) else { return };
    let mut refs = Vec::new();
    for (key, node) in exporters {
        if let Some(serde_json::Value::String(name)) =
            node.get("sending_queue").and_then(|q| q.get("storage")).map(Node::to_json)
        {
            let path = vec!["exporters".to_owned(), key.clone(), "sending_queue".to_owned(), "storage".to_owned()];
            refs.push((path, key.clone(), name));
        }
    }
    for (path, exporter, name) in refs {
        let exporter_type = ComponentId::parse(&exporter).map(|id| id.type_name).unwrap_or_default();
        let message = match ComponentId::parse(&name) {
            Err(e) => e,
            Ok(_) if !PERSISTENT_QUEUE_EXPORTERS.contains(&exporter_type.as_str()) => {
                format!("the {exporter_type} exporter has no persistent queue; remove storage")
            }
            Ok(id) if c.broken.contains(&(Kind::Extension, id.clone())) => continue,
            Ok(id) if id.type_name != "file_storage" => {
                format!("extension \"{name}\" is not a storage extension; use a file_storage extension")
            }
            Ok(id) if !configured.contains(&id) => format!(
                "references extension \"{name}\" which is not configured; declare it under extensions and list it in service.extensions"
            ),
            Ok(id) if !enabled.contains(&id) => {
                format!("extension \"{name}\" is not listed in service.extensions; add it there")
            }
            Ok(_) => continue,
        };
        c.error(&path, message);
    }
}

#[cfg(test)]
mod storage_tests {
    use crate::registry::registry;

    fn errors(extensions: &str, enabled: &str, storage: &str) -> Vec<String> {
        let yaml = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  otlp:\n    endpoint: localhost:4317\n    sending_queue:\n      storage: {storage}\nextensions:\n{extensions}service:\n  extensions: [{enabled}]\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters: [otlp]\n"
        );
        match super::super::load_str(&yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn storage_must_name_an_enabled_file_storage_extension() {
        let fs = "  file_storage/q:\n    directory: /tmp\n  health_check:\n";
        assert!(errors(fs, "file_storage/q", "file_storage/q").is_empty());
        let e = errors(fs, "health_check", "file_storage/q");
        assert!(e[0].contains("exporters.otlp.sending_queue.storage"), "{e:?}");
        assert!(e[0].contains("not listed in service.extensions"), "{e:?}");
        let e = errors(fs, "file_storage/q", "file_storage/other");
        assert!(e[0].contains("not configured"), "{e:?}");
        let e = errors(fs, "file_storage/q, health_check", "health_check");
        assert!(e[0].contains("not a storage extension"), "{e:?}");
    }
}

#[cfg(test)]
mod authenticator_tests {
    use crate::config::load_str;
    use crate::registry::registry;

    fn errors(yaml: &str) -> Vec<String> {
        match load_str(yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const PIPELINE: &str =
        "exporters:\n  otlp:\n    endpoint: b:4317\n    auth: {authenticator: bearertokenauth/out}\nservice:\n  extensions: [bearertokenauth/out, basicauth]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [otlp]}\n";

    #[test]
    fn authenticators_must_be_declared_enabled_and_of_an_auth_type() {
        let head = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        auth: {authenticator: basicauth}\n      http:\n        auth: {authenticator: health_check}\nextensions:\n  health_check:\n  basicauth: {htpasswd: {inline: 'u:p'}}\n  bearertokenauth/out: {token: tok-secret}\n  bearertokenauth/idle: {token: tok-secret}\n";
        assert!(errors(&format!("{head}{PIPELINE}")).iter().any(|e| e.contains("is not an authenticator")));
        let ok = format!("{}{PIPELINE}", head.replace("authenticator: health_check", "authenticator: basicauth"));
        assert_eq!(errors(&ok), Vec::<String>::new());
        let idle =
            ok.replace("auth: {authenticator: bearertokenauth/out}", "auth: {authenticator: bearertokenauth/idle}");
        let errs = errors(&idle);
        assert!(errs[0].starts_with("exporters.otlp.auth.authenticator: extension \"bearertokenauth/idle\" is not listed in service.extensions"), "{errs:?}");
        let missing = ok.replace("authenticator: basicauth}", "authenticator: basicauth/nowhere}");
        let errs = errors(&missing);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].starts_with("receivers.otlp.protocols.grpc.auth.authenticator: references extension \"basicauth/nowhere\" which is not configured"), "{errs:?}");
        assert!(errs.iter().all(|e| !e.contains("tok-secret")));
    }

    #[test]
    fn receiver_tls_is_typed_and_checked() {
        let yaml = "receivers:\n  otlp:\n    protocols:\n      http:\n        tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem, min_version: '1.3'}\n      grpc:\n        tls: {cert_file: /nonexistent/c.pem, key_fle: x}\nexporters:\n  debug:\nservice:\n  pipelines:\n    traces: {receivers: [otlp], exporters: [debug]}\n";
        let errs = errors(yaml);
        assert!(
            errs.iter().any(|e| e.starts_with("receivers.otlp.protocols.grpc.tls.key_fle: unknown field")),
            "{errs:?}"
        );
        let yaml = yaml.replace(", key_fle: x", "");
        let errs = errors(&yaml);
        assert!(
            errs.iter().any(|e| e.starts_with("receivers.otlp.protocols.grpc.tls: cert_file and key_file go together")),
            "{errs:?}"
        );
        let errs = errors(&yaml.replace("tls: {cert_file: /nonexistent/c.pem}", "endpoint: localhost:4317"));
        assert!(
            errs.iter().any(|e| e.starts_with("receivers.otlp.protocols.http.tls.cert_file: cannot read")),
            "{errs:?}"
        );
    }
}
