//! The `hostmetrics` receiver: otelcol-contrib's host scrapers (`cpu`,
//! `memory`, `load`, `disk`, `filesystem`, `network`, `paging`,
//! `processes`) reading Linux /proc (and statvfs) directly, one OTLP metrics
//! batch per `collection_interval` with otelcol's names, units and attributes.

pub mod config;
mod cpu;
mod disk;
mod emit;
mod filesystem;
mod host;
mod load;
mod memory;
mod network;
mod paging;
mod processes;
pub mod procfs;

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::component::{
    parse_section, BuildContext, BuildResult, Factory, Invalid, ReceiverConfig, Running, SignalConsumers,
};
use crate::otlp::data::Decoded;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};
pub use config::HostMetricsConfig;
pub use host::{now_ns, Host, Scraper};

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "hostmetrics",
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<HostMetricsConfig>(v)?)),
    }
}

/// The configured scrapers, their options and toggles checked; used by
/// validation and at start.
pub fn build_scrapers(c: &HostMetricsConfig) -> Result<Vec<Box<dyn Scraper>>, Invalid> {
    let s = &c.scrapers;
    let mut out: Vec<Box<dyn Scraper>> = Vec::new();
    if let Some(x) = &s.cpu {
        out.push(Box::new(cpu::CpuScraper::new(x)?));
    }
    if let Some(x) = &s.memory {
        out.push(Box::new(memory::MemoryScraper::new(x)?));
    }
    if let Some(x) = &s.load {
        out.push(Box::new(load::LoadScraper::new(x)?));
    }
    if let Some(x) = &s.disk {
        out.push(Box::new(disk::DiskScraper::new(x)?));
    }
    if let Some(x) = &s.filesystem {
        out.push(Box::new(filesystem::FilesystemScraper::new(x)?));
    }
    if let Some(x) = &s.network {
        out.push(Box::new(network::NetworkScraper::new(x)?));
    }
    if let Some(x) = &s.paging {
        out.push(Box::new(paging::PagingScraper::new(x)?));
    }
    if let Some(x) = &s.processes {
        out.push(Box::new(processes::ProcessesScraper::new(x)?));
    }
    Ok(out)
}

/// Runs every scraper once and puts their metrics in one resource, a scope
/// per scraper named as otelcol names it. A failing scraper is logged and
/// left out; the others still report.
pub fn scrape_all(scrapers: &mut [Box<dyn Scraper>], host: &Host, receiver: &str) -> ResourceMetrics {
    let now = now_ns();
    let mut scopes = Vec::new();
    for s in scrapers.iter_mut() {
        match s.scrape(host, now) {
            Ok(metrics) if !metrics.is_empty() => scopes.push(ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: format!(
                        "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/{}scraper",
                        s.name()
                    ),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }),
            Ok(_) => {}
            Err(e) => tracing::warn!(receiver, scraper = s.name(), error = %e, "scrape failed"),
        }
    }
    ResourceMetrics { resource: Some(Resource::default()), scope_metrics: scopes, ..Default::default() }
}

impl crate::component::Validate for HostMetricsConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.check()?;
        // building the scrapers checks each scraper's options and metric toggles
        if build_scrapers(self)?.is_empty() {
            return Err(Invalid::at(
                "scrapers",
                "configure at least one scraper, e.g. scrapers: {cpu: {}, memory: {}}",
            ));
        }
        Ok(())
    }
}

impl ReceiverConfig for HostMetricsConfig {
    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let consumer = consumers
                .metrics
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the hostmetrics receiver only feeds metrics pipelines"))?;
            let scrapers = build_scrapers(self).map_err(|e| anyhow::anyhow!("{}: {}", e.path, e.message))?;
            let scrapers = Arc::new(Mutex::new(scrapers));
            let host = Arc::new(Host::new(&self.root_path));
            let group = TaskGroup::new(format!("receiver {}", ctx.id));
            let token = group.shutdown_signal().token();
            let (interval, delay, timeout) = (self.collection_interval.0, self.initial_delay.0, self.timeout.0);
            let receiver = ctx.id.to_string();
            group.spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = token.cancelled() => return,
                        _ = tick.tick() => {}
                    }
                    let (s, h, r) = (scrapers.clone(), host.clone(), receiver.clone());
                    // statvfs on a hung network mount blocks: keep it off the runtime threads
                    let job = tokio::task::spawn_blocking(move || {
                        let mut s = s.lock().expect("scrapers lock");
                        scrape_all(&mut s, &h, &r)
                    });
                    let done = if timeout.is_zero() {
                        job.await.ok()
                    } else {
                        tokio::time::timeout(timeout, job).await.ok().and_then(Result::ok)
                    };
                    let Some(resource) = done else {
                        tracing::warn!(receiver = %receiver, "scrape did not finish within timeout");
                        continue;
                    };
                    if resource.scope_metrics.is_empty() {
                        continue;
                    }
                    let batch = Batch::from_decoded(Decoded::Metrics(vec![resource]));
                    if let Err(e) = consumer.consume(batch).await {
                        tracing::warn!(receiver = %receiver, error = %e, "the pipeline refused a scrape");
                    }
                }
            });
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}

#[cfg(test)]
mod tests;
