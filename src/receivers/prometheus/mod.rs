//! The `prometheus` receiver: scrapes targets the way Prometheus does
//! (`scrape_configs` and `scrape_config_files`; targets from `static_configs`
//! and `file_sd_configs`; `relabel_configs`, `metric_relabel_configs`,
//! `honor_labels`, `honor_timestamps`, `scrape_protocols`,
//! `fallback_scrape_protocol`, basic/bearer auth) and turns each scrape into
//! OTLP metrics with `up` and `scrape_duration_seconds`. Service discovery
//! it cannot test here and `target_allocator` are refused with what to use.

mod config;
mod convert;
mod file_sd;
pub mod parse;
pub mod relabel;
mod scrape;
mod targets;
mod yaml;

pub use config::*;

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::sync::mpsc;

use crate::component::{parse_section, BuildContext, BuildResult, Factory, ReceiverConfig, Running, SignalConsumers};
use crate::runtime::TaskGroup;
use crate::signal::Signal;
use file_sd::Group;
use scrape::{run_job, Honor, JobSettings};

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "prometheus",
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<PrometheusReceiverConfig>(v)?)),
    }
}

impl ReceiverConfig for PrometheusReceiverConfig {
    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let consumer = consumers
                .metrics
                .clone()
                .ok_or_else(|| anyhow::anyhow!("the prometheus receiver only feeds metrics pipelines"))?;
            let client = reqwest::Client::builder()
                .user_agent(concat!("otelstack-collector/", env!("CARGO_PKG_VERSION")))
                .build()?;
            let group = TaskGroup::new(format!("receiver {}", ctx.id));
            let global = &self.config.global;
            let all = self.config.all_scrape_configs().map_err(anyhow::Error::msg)?;
            if all.is_empty() {
                anyhow::bail!(
                    "no scrape configs: scrape_config_files {:?} matched no file with scrape_configs; check the \
                     paths or add config.scrape_configs",
                    self.config.scrape_config_files
                );
            }
            for sc in all {
                let interval = sc.scrape_interval.unwrap_or(global.scrape_interval).0;
                let auth = match (&sc.authorization, &sc.bearer_token) {
                    (Some(a), _) => Some((a.kind.clone().unwrap_or_else(|| "Bearer".into()), a.credentials.clone())),
                    (None, Some(t)) => Some(("Bearer".into(), t.clone())),
                    _ => None,
                };
                let settings = Arc::new(JobSettings {
                    job: sc.job_name.clone(),
                    scheme: sc.scheme.clone().unwrap_or_else(|| "http".into()),
                    metrics_path: sc.metrics_path.clone().unwrap_or_else(|| "/metrics".into()),
                    interval,
                    timeout: sc.scrape_timeout.unwrap_or(global.scrape_timeout).0.min(interval),
                    params: sc.params.clone(),
                    relabel: relabel::compile_all(&sc.relabel_configs).map_err(anyhow::Error::msg)?,
                    metric_relabel: relabel::compile_all(&sc.metric_relabel_configs).map_err(anyhow::Error::msg)?,
                    honor: Honor { labels: sc.honor_labels, timestamps: sc.honor_timestamps.unwrap_or(true) },
                    external_labels: global.external_labels.clone(),
                    auth,
                    basic: sc.basic_auth.clone(),
                    accept: accept_header(&sc.protocols(global)),
                    has_fallback: sc.fallback_scrape_protocol.is_some(),
                    client: client.clone(),
                    consumer: consumer.clone(),
                    receiver: ctx.id.to_string(),
                    trim_suffixes: self.trim_metric_suffixes,
                    start_time_metric: self.start_time_metric(),
                });
                let (tx, rx) = mpsc::channel(8);
                let stop = group.shutdown_signal().token();
                let statics: Vec<Group> = sc
                    .static_configs
                    .iter()
                    .map(|st| Group { targets: st.targets.clone(), labels: st.labels.clone() })
                    .collect();
                tx.send((0, statics)).await.map_err(|_| anyhow::anyhow!("scrape job {} did not start", sc.job_name))?;
                for (i, f) in sc.file_sd_configs.iter().enumerate() {
                    let (ftx, mut frx) = mpsc::channel(1);
                    group.spawn(file_sd::watch(f.clone(), ftx, stop.clone(), ctx.id.to_string()));
                    let tx = tx.clone();
                    group.spawn(async move {
                        while let Some(groups) = frx.recv().await {
                            if tx.send((i + 1, groups)).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                drop(tx);
                group.spawn(run_job(settings, rx, stop));
            }
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}
