//! `Service::build` in named phases: the extension host, the self-metrics
//! server, the extensions, then the graph (exporters, pipelines and
//! connectors in [`Graph::build_order`]), and the receivers last, so data
//! only arrives once everything behind the receivers runs.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;

use super::graph::{Graph, Node};
use super::{Fanout, Service, Stage};
use crate::component::{BuildContext, ComponentId, Consumer, SignalConsumers};
use crate::config::Config;
use crate::runtime::{serve_http, Admission, Host, Offered, TaskGroup};
use crate::signal::Signal;
use crate::telemetry::Telemetry;

/// What every component is built with, apart from its id.
struct Shared {
    telemetry: Arc<Telemetry>,
    host: Host,
    admission: Admission,
}

impl Shared {
    fn ctx(&self, id: &ComponentId) -> BuildContext {
        BuildContext {
            id: id.clone(),
            telemetry: self.telemetry.clone(),
            host: self.host.clone(),
            admission: self.admission.clone(),
        }
    }
}

impl Service {
    pub(super) async fn build(&mut self, config: Config, telemetry: Arc<Telemetry>) -> anyhow::Result<()> {
        let shared = Shared {
            host: extension_host(&config)?,
            // receivers share one in-flight byte budget: the tightest memory_limiter's spike allowance
            admission: Admission::new(config.processors.values().filter_map(|p| p.admission_budget()).min()),
            telemetry,
        };
        self.serve_self_metrics(&config, &shared).await?;
        self.start_extensions(&config, &shared).await?;
        let heads = self.build_graph(&config, &shared)?;
        self.start_receivers(&config, &shared, &heads).await
    }

    async fn serve_self_metrics(&mut self, config: &Config, shared: &Shared) -> anyhow::Result<()> {
        let Some(addr) = config.telemetry.metrics.listen_address() else { return Ok(()) };
        let listener = crate::runtime::bind(&addr, "self metrics (service.telemetry.metrics)").await?;
        let server = TaskGroup::new("telemetry");
        serve_http(&server, listener, crate::telemetry::server::router(shared.telemetry.clone()));
        tracing::info!(address = %addr, "self metrics served at /metrics");
        self.extensions.push(("telemetry".into(), Box::new(server)));
        Ok(())
    }

    async fn start_extensions(&mut self, config: &Config, shared: &Shared) -> anyhow::Result<()> {
        for id in &config.service_extensions {
            let ext = &config.extensions[id];
            let running =
                ext.start(shared.ctx(id), self.health.clone()).await.with_context(|| format!("extension {id}"))?;
            self.extensions.push((format!("extension {id}"), running));
        }
        Ok(())
    }

    /// Builds every node of the graph downstream first and returns each
    /// pipeline's entry consumer. Each pipeline's processors and each
    /// connector are a stop group, recorded in build order; shutdown runs the
    /// groups in reverse, so upstream pipelines drain into a connector before
    /// it flushes into the pipelines behind it.
    fn build_graph(&mut self, config: &Config, shared: &Shared) -> anyhow::Result<Vec<Arc<dyn Consumer>>> {
        let graph = Graph::new(config);
        let order = graph.build_order().map_err(anyhow::Error::msg)?;
        let mut built: BTreeMap<Node, Arc<dyn Consumer>> = BTreeMap::new();
        for node in order {
            let consumer = match &node {
                Node::Exporter(id, signal) => {
                    let b = config.exporters[id]
                        .build(shared.ctx(id), *signal)
                        .with_context(|| format!("exporter {id}"))?;
                    self.exporters.push((format!("exporter {id} ({signal})"), b.running));
                    b.consumer
                }
                Node::Pipeline(pi) => {
                    let p = &config.pipelines[*pi];
                    let outs = p.exporters.iter().map(|id| built[&Graph::target(config, id, p.signal())].clone());
                    self.build_pipeline(config, shared, *pi, Fanout::of(outs.collect()))?
                }
                Node::Connector(id, from) => {
                    let heads = graph.feeds(&node).map(|n| match n {
                        Node::Pipeline(pi) => (config.pipelines[*pi].signal(), built[n].clone()),
                        _ => unreachable!("a connector feeds pipelines"),
                    });
                    self.build_connector(config, shared, id, *from, heads.collect())?
                }
            };
            built.insert(node, consumer);
        }
        Ok((0..config.pipelines.len()).map(|pi| built[&Node::Pipeline(pi)].clone()).collect())
    }

    /// A pipeline's processors, back to front in front of `next`.
    fn build_pipeline(
        &mut self,
        config: &Config,
        shared: &Shared,
        pi: usize,
        mut next: Arc<dyn Consumer>,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        let p = &config.pipelines[pi];
        let mut running = Vec::new();
        for id in p.processors.iter().rev() {
            let name = format!("processor {id} in pipeline {}", p.id);
            let built = config.processors[id].build(shared.ctx(id), p.signal(), next).with_context(|| name.clone())?;
            if let Some(r) = built.running {
                running.push((name, r));
            }
            next = built.consumer;
        }
        running.reverse();
        self.middle.push(running);
        Ok(next)
    }

    /// Connector `id` for pipelines of signal `from`: one instance per
    /// signal it feeds, over the entry consumers of those pipelines.
    fn build_connector(
        &mut self,
        config: &Config,
        shared: &Shared,
        id: &ComponentId,
        from: Signal,
        heads: Vec<(Signal, Arc<dyn Consumer>)>,
    ) -> anyhow::Result<Arc<dyn Consumer>> {
        let mut by_signal: BTreeMap<Signal, Vec<Arc<dyn Consumer>>> = BTreeMap::new();
        for (to, head) in heads {
            by_signal.entry(to).or_default().push(head);
        }
        let mut consumers = Vec::new();
        let mut group: Stage = Vec::new();
        for (to, heads) in by_signal {
            let name = format!("connector {id} ({from} -> {to})");
            let c = config.connectors[id]
                .build(shared.ctx(id), from, to, Fanout::of(heads))
                .with_context(|| name.clone())?;
            group.push((name, c.running));
            consumers.push(c.consumer);
        }
        self.middle.push(group);
        Ok(Fanout::of(consumers))
    }

    /// Each receiver gets, per signal, the fan-out over the entry consumers
    /// of the pipelines that read from it.
    async fn start_receivers(
        &mut self,
        config: &Config,
        shared: &Shared,
        heads: &[Arc<dyn Consumer>],
    ) -> anyhow::Result<()> {
        for (id, cfg) in &config.receivers {
            let mut consumers = SignalConsumers::default();
            for signal in Signal::ALL {
                let targets: Vec<_> = config
                    .pipelines
                    .iter()
                    .zip(heads)
                    .filter(|(p, _)| p.signal() == signal && p.receivers.contains(id))
                    .map(|(_, head)| head.clone())
                    .collect();
                if !targets.is_empty() {
                    consumers.set(signal, Fanout::of(targets));
                }
            }
            let running = cfg.start(shared.ctx(id), consumers).await.with_context(|| format!("receiver {id}"))?;
            self.receivers.push((format!("receiver {id}"), running));
        }
        Ok(())
    }
}

/// What the enabled extensions offer, for components to find by id.
fn extension_host(config: &Config) -> anyhow::Result<Host> {
    let mut offered = BTreeMap::new();
    for id in &config.service_extensions {
        let ext = &config.extensions[id];
        let authenticator = ext.authenticator().with_context(|| format!("extension {id}"))?;
        offered.insert(id.clone(), Offered { authenticator, storage: ext.storage() });
    }
    Ok(Host::new(offered))
}
