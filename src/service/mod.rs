//! Builds and runs the component graph from a validated config, the way
//! otelcol does: `receivers -> processors -> fan-out -> exporters`, receivers
//! and exporters shared between pipelines, components started downstream
//! first and stopped upstream first, each stage with a deadline.

mod fanout;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;

use crate::component::{BuildContext, ComponentId, Consumer, Running, SignalConsumers};
use crate::config::Config;
use crate::extensions::health_check::ServerTask;
use crate::signal::Signal;
use crate::telemetry::Telemetry;
pub use fanout::Fanout;

/// Whether the collector is serving; read by the health_check extension.
#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    started: std::time::Instant,
}

impl Health {
    pub fn new() -> Health {
        Health { ready: Arc::new(AtomicBool::new(false)), started: std::time::Instant::now() }
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

type Stage = Vec<(String, Box<dyn Running>)>;
type PipelineEntry = (Signal, Arc<dyn Consumer>);

/// A running collector.
pub struct Service {
    health: Health,
    receivers: Stage,
    /// processors of each pipeline and connectors, one group each, in build
    /// (downstream-first) order
    middle: Vec<Stage>,
    exporters: Stage,
    extensions: Stage,
}

impl Service {
    /// Starts everything; on error, what was started is stopped again.
    pub async fn start(config: Config, telemetry: Arc<Telemetry>) -> anyhow::Result<Service> {
        let health = Health::new();
        let mut svc = Service {
            health: health.clone(),
            receivers: vec![],
            middle: vec![],
            exporters: vec![],
            extensions: vec![],
        };
        match svc.build(config, telemetry).await {
            Ok(()) => {
                health.set_ready(true);
                Ok(svc)
            }
            Err(e) => {
                svc.shutdown(Duration::from_secs(5)).await;
                Err(e)
            }
        }
    }

    async fn build(&mut self, config: Config, telemetry: Arc<Telemetry>) -> anyhow::Result<()> {
        // Authenticator extensions first: receivers and exporters look them up by id.
        let mut authenticators = BTreeMap::new();
        for id in &config.service_extensions {
            if let Some(a) = config.extensions[id].authenticator().with_context(|| format!("extension {id}"))? {
                authenticators.insert(id.clone(), a);
            }
        }
        let authenticators = crate::extensions::auth::Authenticators::new(authenticators);
        let storages: BTreeMap<_, _> = config
            .service_extensions
            .iter()
            .filter_map(|id| config.extensions[id].storage().map(|s| (id.clone(), s)))
            .collect();
        let storages = Arc::new(storages);
        // receivers share one in-flight byte budget: the tightest memory_limiter's spike allowance
        let budget = config.processors.values().filter_map(|p| p.admission_budget()).min();
        let admission = crate::receivers::admission::Admission::new(budget);
        let ctx = |id: &ComponentId| BuildContext {
            id: id.clone(),
            telemetry: telemetry.clone(),
            authenticators: authenticators.clone(),
            storages: storages.clone(),
            admission: admission.clone(),
        };
        if let Some(addr) = config.telemetry.metrics.listen_address() {
            let listener =
                crate::receivers::http_server::bind(&addr, "self metrics (service.telemetry.metrics)").await?;
            let router = crate::telemetry::server::router(telemetry.clone());
            let stop = tokio_util::sync::CancellationToken::new();
            let token = stop.clone();
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, router).with_graceful_shutdown(token.cancelled_owned()).await;
            });
            tracing::info!(address = %addr, "self metrics served at /metrics");
            self.extensions
                .push(("telemetry".into(), Box::new(ServerTask { stop, task: std::sync::Mutex::new(Some(task)) })));
        }
        for id in &config.service_extensions {
            let ext = &config.extensions[id];
            let running = ext.start(ctx(id), self.health.clone()).await.with_context(|| format!("extension {id}"))?;
            self.extensions.push((format!("extension {id}"), running));
        }

        // Exporters first: one instance per (exporter, signal), shared by pipelines.
        let mut exporters: BTreeMap<(ComponentId, Signal), Arc<dyn Consumer>> = BTreeMap::new();
        for p in &config.pipelines {
            for id in p.exporters.iter().filter(|id| !config.connectors.contains_key(*id)) {
                let key = (id.clone(), p.signal());
                if exporters.contains_key(&key) {
                    continue;
                }
                let built =
                    config.exporters[id].build(ctx(id), p.signal()).with_context(|| format!("exporter {id}"))?;
                self.exporters.push((format!("exporter {id} ({})", p.signal()), built.running));
                exporters.insert(key, built.consumer);
            }
        }

        // Pipelines and connectors, downstream first: a connector is built once
        // every pipeline it feeds runs, a pipeline once every connector it
        // exports to runs. Each is recorded as a stop group; shutdown runs the
        // groups in reverse, so upstream pipelines drain into a connector
        // before it flushes into the pipelines behind it.
        let pipelines = &config.pipelines;
        let mut heads: Vec<Option<Arc<dyn Consumer>>> = vec![None; pipelines.len()];
        while heads.iter().any(Option::is_none) {
            let mut progress = false;
            for (pi, p) in pipelines.iter().enumerate() {
                if heads[pi].is_some() {
                    continue;
                }
                let mut outs: Vec<Arc<dyn Consumer>> = Vec::new();
                let mut ready = true;
                for id in &p.exporters {
                    if let Some(c) = exporters.get(&(id.clone(), p.signal())) {
                        outs.push(c.clone());
                    } else if let Some(c) = self.connector(&config, &ctx, &heads, &mut exporters, id, p.signal())? {
                        outs.push(c);
                    } else {
                        ready = false;
                    }
                }
                if !ready {
                    continue;
                }
                let mut next: Arc<dyn Consumer> = Fanout::of(outs);
                let mut running = Vec::new();
                for id in p.processors.iter().rev() {
                    let built = config.processors[id]
                        .build(ctx(id), p.signal(), next)
                        .with_context(|| format!("processor {id} in pipeline {}", p.id))?;
                    if let Some(r) = built.running {
                        running.push((format!("processor {id} in pipeline {}", p.id), r));
                    }
                    next = built.consumer;
                }
                running.reverse();
                self.middle.push(running);
                heads[pi] = Some(next);
                progress = true;
            }
            anyhow::ensure!(progress, "the pipelines form a cycle through connectors");
        }
        // receiver id -> the entry consumer of each pipeline that reads from it
        let mut entries: BTreeMap<ComponentId, Vec<PipelineEntry>> = BTreeMap::new();
        for (p, head) in pipelines.iter().zip(&heads) {
            let head = head.clone().expect("every pipeline is built");
            for r in p.receivers.iter().filter(|r| !config.connectors.contains_key(*r)) {
                entries.entry(r.clone()).or_default().push((p.signal(), head.clone()));
            }
        }

        // Receivers last, so data only arrives once everything behind them runs.
        for (id, cfg) in &config.receivers {
            let mut consumers = SignalConsumers::default();
            for signal in Signal::ALL {
                let targets: Vec<_> = entries
                    .get(id)
                    .into_iter()
                    .flatten()
                    .filter(|(s, _)| *s == signal)
                    .map(|(_, c)| c.clone())
                    .collect();
                if !targets.is_empty() {
                    consumers.set(signal, Fanout::of(targets));
                }
            }
            let running = cfg.start(ctx(id), consumers).await.with_context(|| format!("receiver {id}"))?;
            self.receivers.push((format!("receiver {id}"), running));
        }
        Ok(())
    }

    /// The consumer of connector `id` for pipelines of signal `from`, built on
    /// first use; `None` while a pipeline it feeds is not built yet.
    fn connector(
        &mut self,
        config: &Config,
        ctx: &dyn Fn(&ComponentId) -> BuildContext,
        heads: &[Option<Arc<dyn Consumer>>],
        built: &mut BTreeMap<(ComponentId, Signal), Arc<dyn Consumer>>,
        id: &ComponentId,
        from: Signal,
    ) -> anyhow::Result<Option<Arc<dyn Consumer>>> {
        let cfg = &config.connectors[id];
        // the pipelines it feeds from `from`, by signal
        let mut targets: BTreeMap<Signal, Vec<Arc<dyn Consumer>>> = BTreeMap::new();
        for (p, head) in config.pipelines.iter().zip(heads) {
            if p.receivers.contains(id) && cfg.pairs().contains(&(from, p.signal())) {
                match head {
                    Some(h) => targets.entry(p.signal()).or_default().push(h.clone()),
                    None => return Ok(None),
                }
            }
        }
        let mut consumers = Vec::new();
        let mut group: Stage = Vec::new();
        for (to, heads) in targets {
            let c = cfg
                .build(ctx(id), from, to, Fanout::of(heads))
                .with_context(|| format!("connector {id} ({from} -> {to})"))?;
            group.push((format!("connector {id} ({from} -> {to})"), c.running));
            consumers.push(c.consumer);
        }
        self.middle.push(group);
        let consumer = Fanout::of(consumers);
        built.insert((id.clone(), from), consumer.clone());
        Ok(Some(consumer))
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Stops receivers, then flushes processors and connectors pipeline by
    /// pipeline from upstream to downstream, then drains exporters, each
    /// stage bounded by what is left of `timeout`.
    pub async fn shutdown(&mut self, timeout: Duration) {
        self.health.set_ready(false);
        let deadline = Instant::now() + timeout;
        let mut stages = vec![std::mem::take(&mut self.receivers)];
        stages.extend(self.middle.drain(..).rev());
        stages.push(std::mem::take(&mut self.exporters));
        stages.push(std::mem::take(&mut self.extensions));
        for stage in stages {
            for (name, running) in stage {
                running.shutdown(deadline).await;
                if Instant::now() > deadline {
                    tracing::error!(component = %name, "stopped after the shutdown deadline");
                } else {
                    tracing::debug!(component = %name, "stopped");
                }
            }
        }
    }
}
