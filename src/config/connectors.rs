//! Service-graph checks for connectors, with otelcol's rules: a connector id
//! is unique across receivers and exporters, it is used both as an exporter
//! (of a pipeline of a signal it takes) and as a receiver (of a pipeline of a
//! signal it emits), every use has a partner pipeline of a supported signal
//! pair, and the pipelines it joins do not form a cycle.

use std::collections::{BTreeMap, BTreeSet};

use super::compiled::Pipeline;
use super::compiler::Compiler;
use crate::component::{ComponentId, Kind};
use crate::signal::Signal;

type Pairs = &'static [(Signal, Signal)];

fn describe(pairs: Pairs) -> String {
    pairs.iter().map(|(a, b)| format!("{a} -> {b}")).collect::<Vec<_>>().join(", ")
}

/// An id may name a connector or a receiver/exporter, not both.
pub(super) fn check_unique_ids<R, E, C>(
    c: &mut Compiler,
    receivers: &BTreeMap<ComponentId, R>,
    exporters: &BTreeMap<ComponentId, E>,
    connectors: &BTreeMap<ComponentId, C>,
) {
    for id in connectors.keys() {
        for (kind, clash) in
            [(Kind::Receiver, receivers.contains_key(id)), (Kind::Exporter, exporters.contains_key(id))]
        {
            if clash {
                c.error(
                    &["connectors".into(), id.to_string()],
                    format!(
                        "ambiguous id: \"{id}\" is both {} {} and a connector; rename one of them (e.g. \"{}/connector\")",
                        if kind == Kind::Exporter { "an" } else { "a" },
                        kind.noun(),
                        id.type_name
                    ),
                );
            }
        }
    }
}

/// Whether a connector can sit on `side` (receiver or exporter) of a pipeline
/// of `signal`; the error says which pairs it joins.
pub(super) fn supports_side(id: &ComponentId, pairs: Pairs, side: Kind, signal: Signal) -> Result<(), String> {
    let ok = pairs.iter().any(|(from, to)| if side == Kind::Exporter { *from == signal } else { *to == signal });
    if ok {
        return Ok(());
    }
    let role = if side == Kind::Exporter { "an exporter" } else { "a receiver" };
    Err(format!("connector \"{id}\" cannot be {role} of a {signal} pipeline; it connects {}", describe(pairs)))
}

/// Checks that every connector use has a partner pipeline and that the
/// joined pipelines form no cycle; returns the connectors in use.
pub(super) fn check_links(
    c: &mut Compiler,
    connectors: &BTreeMap<ComponentId, Pairs>,
    pipelines: &[Pipeline],
) -> BTreeSet<ComponentId> {
    let mut used = BTreeSet::new();
    // (connector, signal) -> pipelines that export to / receive from it
    let mut exporting: BTreeMap<&ComponentId, Vec<(usize, Signal)>> = BTreeMap::new();
    let mut receiving: BTreeMap<&ComponentId, Vec<(usize, Signal)>> = BTreeMap::new();
    for (pi, p) in pipelines.iter().enumerate() {
        for id in p.exporters.iter().filter(|id| connectors.contains_key(*id)) {
            exporting.entry(id).or_default().push((pi, p.signal()));
        }
        for id in p.receivers.iter().filter(|id| connectors.contains_key(*id)) {
            receiving.entry(id).or_default().push((pi, p.signal()));
        }
    }
    for (id, pairs) in connectors {
        let outs = exporting.get(id).map(Vec::as_slice).unwrap_or_default();
        let ins = receiving.get(id).map(Vec::as_slice).unwrap_or_default();
        if outs.is_empty() && ins.is_empty() {
            continue;
        }
        used.insert(id.clone());
        for &(pi, from) in outs {
            if !ins.iter().any(|(_, to)| pairs.contains(&(from, *to))) {
                let wants: Vec<String> = pairs.iter().filter(|(f, _)| *f == from).map(|(_, t)| t.to_string()).collect();
                let at = position(&pipelines[pi], id, Kind::Exporter);
                c.error(
                    &at,
                    format!(
                        "connector \"{id}\" is used as an exporter of this {from} pipeline but no {} pipeline lists it as a receiver; add it to the receivers of one",
                        wants.join(" or ")
                    ),
                );
            }
        }
        for &(pi, to) in ins {
            if !outs.iter().any(|(_, from)| pairs.contains(&(*from, to))) {
                let wants: Vec<String> = pairs.iter().filter(|(_, t)| *t == to).map(|(f, _)| f.to_string()).collect();
                let at = position(&pipelines[pi], id, Kind::Receiver);
                c.error(
                    &at,
                    format!(
                        "connector \"{id}\" is used as a receiver of this {to} pipeline but no {} pipeline lists it as an exporter; add it to the exporters of one",
                        wants.join(" or ")
                    ),
                );
            }
        }
    }
    check_cycles(c, connectors, pipelines);
    used
}

fn position(p: &Pipeline, id: &ComponentId, side: Kind) -> Vec<String> {
    let list = if side == Kind::Exporter { &p.exporters } else { &p.receivers };
    let i = list.iter().position(|x| x == id).unwrap_or(0);
    vec!["service".into(), "pipelines".into(), p.id.to_string(), side.section().into(), i.to_string()]
}

/// Pipeline `a` feeds pipeline `b` when `a` exports to a connector that `b`
/// receives from over a supported pair.
pub(crate) fn feeds(connectors: &BTreeMap<ComponentId, Pairs>, a: &Pipeline, b: &Pipeline) -> Option<ComponentId> {
    a.exporters
        .iter()
        .find(|id| {
            b.receivers.contains(id)
                && connectors.get(*id).is_some_and(|pairs| pairs.contains(&(a.signal(), b.signal())))
        })
        .cloned()
}

fn check_cycles(c: &mut Compiler, connectors: &BTreeMap<ComponentId, Pairs>, pipelines: &[Pipeline]) {
    // 0 = unvisited, 1 = on the current path, 2 = done
    fn visit(
        i: usize,
        state: &mut [u8],
        connectors: &BTreeMap<ComponentId, Pairs>,
        pipelines: &[Pipeline],
    ) -> Option<(usize, ComponentId)> {
        state[i] = 1;
        for j in 0..pipelines.len() {
            let Some(via) = feeds(connectors, &pipelines[i], &pipelines[j]) else { continue };
            if state[j] == 1 {
                return Some((i, via));
            }
            if state[j] == 0 {
                if let Some(found) = visit(j, state, connectors, pipelines) {
                    return Some(found);
                }
            }
        }
        state[i] = 2;
        None
    }
    let mut state = vec![0u8; pipelines.len()];
    for i in 0..pipelines.len() {
        if state[i] == 0 {
            if let Some((at, via)) = visit(i, &mut state, connectors, pipelines) {
                c.error(
                    &["service".into(), "pipelines".into(), pipelines[at].id.to_string()],
                    format!("pipelines form a cycle through connector \"{via}\"; data would loop forever"),
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use crate::registry::registry;

    fn errors(connectors: &str, pipelines: &str) -> Vec<String> {
        let yaml = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nconnectors:\n{connectors}service:\n  pipelines:\n{pipelines}"
        );
        match load_str(&yaml, &registry()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    const SM: &str = "  spanmetrics:\n";

    #[test]
    fn a_connector_joins_a_traces_pipeline_to_a_metrics_pipeline() {
        let ok = "    traces: {receivers: [otlp], exporters: [spanmetrics]}\n    metrics: {receivers: [otlp, spanmetrics], exporters: [debug]}\n";
        assert_eq!(errors(SM, ok), Vec::<String>::new());
        let cfg = load_str(
            &format!("receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nconnectors:\n  span_metrics/red:\n    namespace: red\nservice:\n  pipelines:\n{}", ok.replace("spanmetrics", "span_metrics/red")),
            &registry(),
        )
        .unwrap();
        assert_eq!(cfg.connectors.len(), 1, "the newer spelling works too");
        assert!(cfg.exporters.keys().all(|id| id.type_name == "debug"));
    }

    #[test]
    fn a_connector_used_on_one_side_only_is_an_error_with_its_position() {
        let only_exporter = "    traces: {receivers: [otlp], exporters: [spanmetrics]}\n    metrics: {receivers: [otlp], exporters: [debug]}\n";
        let e = errors(SM, only_exporter);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("service.pipelines.traces.exporters.0: connector \"spanmetrics\" is used as an exporter of this traces pipeline but no metrics pipeline lists it as a receiver"), "{e:?}");
        assert!(e[0].contains("(at <inline>:"), "{e:?}");
        let only_receiver = "    traces: {receivers: [otlp], exporters: [debug]}\n    metrics: {receivers: [spanmetrics], exporters: [debug]}\n";
        let e = errors(SM, only_receiver);
        assert!(e[0].starts_with("service.pipelines.metrics.receivers.0: connector \"spanmetrics\" is used as a receiver of this metrics pipeline but no traces pipeline lists it as an exporter"), "{e:?}");
    }

    #[test]
    fn unsupported_signal_pairs_and_unknown_types_are_errors() {
        let logs = "    traces: {receivers: [otlp], exporters: [spanmetrics]}\n    metrics: {receivers: [spanmetrics], exporters: [debug]}\n    logs: {receivers: [otlp], exporters: [spanmetrics]}\n";
        let e = errors(SM, logs);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("service.pipelines.logs.exporters.0: connector \"spanmetrics\" cannot be an exporter of a logs pipeline; it connects traces -> metrics"), "{e:?}");
        let reversed = "    metrics: {receivers: [otlp], exporters: [spanmetrics]}\n    traces: {receivers: [spanmetrics], exporters: [debug]}\n";
        let e = errors(SM, reversed);
        assert_eq!(e.len(), 2, "metrics -> traces is not a pair spanmetrics joins: {e:?}");
        let e = errors("  debug:\n", "    traces: {receivers: [otlp], exporters: [debug]}\n");
        assert!(e.iter().any(|m| m.starts_with("connectors.debug: unknown connector type \"debug\"")), "{e:?}");
    }
}
