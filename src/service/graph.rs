//! The service's build plan as an explicit graph, as otelcol's
//! `service/internal/graph`: a node per exporter instance (id, signal), per
//! pipeline and per connector instance (id, signal it takes in); an edge from
//! a node to each node it hands data to. [`Graph::build_order`] sorts it
//! downstream first (Kahn's algorithm), so everything a node feeds runs
//! before it is built; a cycle is reported once, naming its nodes.
//! Receivers are not nodes: nothing feeds into them, so they start last.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::component::ComponentId;
use crate::config::Config;
use crate::signal::Signal;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// one exporter instance per (id, signal), shared by pipelines
    Exporter(ComponentId, Signal),
    /// a pipeline, by its index in `Config::pipelines`
    Pipeline(usize),
    /// one connector instance per (id, signal of the pipelines exporting to it)
    Connector(ComponentId, Signal),
}

pub struct Graph<'a> {
    config: &'a Config,
    /// node -> the nodes it hands data to
    feeds: BTreeMap<Node, BTreeSet<Node>>,
}

impl<'a> Graph<'a> {
    pub fn new(config: &'a Config) -> Graph<'a> {
        let mut feeds: BTreeMap<Node, BTreeSet<Node>> = BTreeMap::new();
        for (pi, p) in config.pipelines.iter().enumerate() {
            let outs = p.exporters.iter().map(|id| Graph::target(config, id, p.signal())).collect::<BTreeSet<_>>();
            for out in &outs {
                feeds.entry(out.clone()).or_default();
            }
            feeds.insert(Node::Pipeline(pi), outs);
        }
        // a connector feeds each pipeline that receives from it over one of its pairs
        for (pi, p) in config.pipelines.iter().enumerate() {
            for id in p.receivers.iter().filter(|id| config.connectors.contains_key(*id)) {
                for (from, to) in config.connectors[id].pairs() {
                    let node = Node::Connector(id.clone(), *from);
                    if *to == p.signal() {
                        if let Some(f) = feeds.get_mut(&node) {
                            f.insert(Node::Pipeline(pi));
                        }
                    }
                }
            }
        }
        Graph { config, feeds }
    }

    /// The node a pipeline of `signal` hands data to for exporter id `id`.
    pub fn target(config: &Config, id: &ComponentId, signal: Signal) -> Node {
        if config.connectors.contains_key(id) {
            Node::Connector(id.clone(), signal)
        } else {
            Node::Exporter(id.clone(), signal)
        }
    }

    /// The nodes `node` hands data to.
    pub fn feeds(&self, node: &Node) -> impl Iterator<Item = &Node> {
        self.feeds.get(node).into_iter().flatten()
    }

    /// Every node, downstream first; `Err` describes one cycle.
    pub fn build_order(&self) -> Result<Vec<Node>, String> {
        let mut waiting: BTreeMap<&Node, usize> = self.feeds.iter().map(|(n, outs)| (n, outs.len())).collect();
        let mut fed_by: BTreeMap<&Node, Vec<&Node>> = BTreeMap::new();
        for (n, outs) in &self.feeds {
            for out in outs {
                fed_by.entry(out).or_default().push(n);
            }
        }
        let mut ready: BTreeSet<&Node> = waiting.iter().filter(|(_, w)| **w == 0).map(|(n, _)| *n).collect();
        let mut order = Vec::with_capacity(self.feeds.len());
        while let Some(node) = ready.pop_first() {
            waiting.remove(node);
            order.push(node.clone());
            for up in fed_by.get(node).into_iter().flatten() {
                let w = waiting.get_mut(up).expect("a node waits until it is built");
                *w -= 1;
                if *w == 0 {
                    ready.insert(up);
                }
            }
        }
        if waiting.is_empty() {
            return Ok(order);
        }
        let cycle = self.find_cycle(&waiting.keys().copied().collect());
        let names: Vec<String> = cycle.iter().map(|n| self.describe(n).to_string()).collect();
        Err(format!("the pipelines form a cycle: {}", names.join(" -> ")))
    }

    /// One cycle among `left` (the nodes Kahn's algorithm could not place,
    /// each of which feeds another of them), first node repeated at the end.
    fn find_cycle<'n>(&'n self, left: &BTreeSet<&'n Node>) -> Vec<&'n Node> {
        let mut path: Vec<&Node> = vec![left.first().expect("a cycle has nodes")];
        loop {
            let last = *path.last().expect("not empty");
            let next = self.feeds(last).find(|n| left.contains(n)).expect("every node left feeds another");
            if let Some(start) = path.iter().position(|n| *n == next) {
                let mut cycle = path.split_off(start);
                cycle.push(next);
                return cycle;
            }
            path.push(next);
        }
    }

    fn describe<'n>(&'n self, node: &'n Node) -> Described<'n> {
        Described(self.config, node)
    }
}

struct Described<'a>(&'a Config, &'a Node);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Node::Exporter(id, s) => write!(f, "exporter {id} ({s})"),
            Node::Pipeline(i) => write!(f, "pipeline {}", self.0.pipelines[*i].id),
            Node::Connector(id, s) => write!(f, "connector {id} ({s})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::registry;

    fn config(pipelines: &str) -> Config {
        let yaml = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\nconnectors:\n  spanmetrics:\n  spanmetrics/b:\nservice:\n  pipelines:\n{pipelines}"
        );
        crate::config::load_str(&yaml, &registry()).expect("valid")
    }

    fn names(cfg: &Config, order: &[Node]) -> Vec<String> {
        let g = Graph::new(cfg);
        order.iter().map(|n| g.describe(n).to_string()).collect()
    }

    #[test]
    fn builds_exporters_then_pipelines_and_connectors_downstream_first() {
        let cfg = config("    traces: {receivers: [otlp], exporters: [spanmetrics, debug]}\n    traces/b: {receivers: [otlp], exporters: [spanmetrics/b]}\n    metrics: {receivers: [spanmetrics/b, otlp, spanmetrics], exporters: [debug]}\n");
        let order = Graph::new(&cfg).build_order().unwrap();
        let got = names(&cfg, &order);
        let at = |s: &str| got.iter().position(|n| n == s).unwrap_or_else(|| panic!("{s} in {got:?}"));
        assert_eq!(got.len(), 7, "{got:?}");
        assert!(at("exporter debug (metrics)") < at("pipeline metrics"));
        assert!(at("pipeline metrics") < at("connector spanmetrics (traces)"));
        assert!(at("pipeline metrics") < at("connector spanmetrics/b (traces)"));
        assert!(at("connector spanmetrics (traces)") < at("pipeline traces"));
        assert!(at("exporter debug (traces)") < at("pipeline traces"));
        assert!(at("connector spanmetrics/b (traces)") < at("pipeline traces/b"));
    }

    #[test]
    fn a_cycle_is_reported_once_with_its_nodes() {
        // validation refuses this config; the graph is built from it anyway
        // to check what the service would say
        let mut cfg = config("    traces: {receivers: [otlp], exporters: [spanmetrics]}\n    metrics: {receivers: [spanmetrics], exporters: [debug]}\n");
        let back = cfg.pipelines.iter().position(|p| p.signal() == Signal::Traces).unwrap();
        let metrics = cfg.pipelines.iter().position(|p| p.signal() == Signal::Metrics).unwrap();
        let id = ComponentId::parse("spanmetrics").unwrap();
        // pretend spanmetrics also joined metrics -> traces
        cfg.pipelines[metrics].exporters.push(id.clone());
        cfg.pipelines[back].receivers.push(id);
        let g = Graph {
            config: &cfg,
            feeds: {
                let mut f = Graph::new(&cfg).feeds;
                f.entry(Node::Connector(ComponentId::parse("spanmetrics").unwrap(), Signal::Metrics))
                    .or_default()
                    .insert(Node::Pipeline(back));
                f
            },
        };
        let e = g.build_order().unwrap_err();
        assert_eq!(e, "the pipelines form a cycle: pipeline metrics -> connector spanmetrics (metrics) -> pipeline traces -> connector spanmetrics (traces) -> pipeline metrics");
    }
}
