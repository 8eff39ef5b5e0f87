//! The `prometheus` receiver: scrapes targets the way Prometheus does, for
//! the `config.scrape_configs` subset ordinary setups use (`job_name`,
//! `scrape_interval`, `scrape_timeout`, `metrics_path`, `scheme`, `params`,
//! `static_configs` with `targets` and `labels`, `basic_auth`,
//! `authorization`/`bearer_token`, `honor_labels`), and turns each scrape
//! into OTLP metrics with `up` and `scrape_duration_seconds`.

mod convert;
pub mod parse;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::component::{
    parse_section, BuildContext, BuildResult, Consumer, Factory, Invalid, ReceiverConfig, Running, SignalConsumers,
    Validate,
};
use crate::config::types::GoDuration;
use crate::otlp::data::Decoded;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusReceiverConfig {
    pub config: ScrapeFile,
    /// accepted for compatibility; names are kept as scraped (counters lose `_total`)
    pub trim_metric_suffixes: bool,
    pub use_start_time_metric: bool,
}

/// The embedded Prometheus configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeFile {
    pub global: Global,
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    pub scrape_interval: GoDuration,
    pub scrape_timeout: GoDuration,
    pub external_labels: BTreeMap<String, String>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            scrape_interval: GoDuration::secs(60),
            scrape_timeout: GoDuration::secs(10),
            external_labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Option<GoDuration>,
    pub scrape_timeout: Option<GoDuration>,
    pub metrics_path: Option<String>,
    pub scheme: Option<String>,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    pub static_configs: Vec<StaticConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: Option<String>,
    pub tls_config: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth {{ username: {:?}, password: <redacted> }}", self.username)
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub credentials: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authorization {{ type: {:?}, credentials: <redacted> }}", self.kind)
    }
}

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "prometheus",
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<PrometheusReceiverConfig>(v)?)),
    }
}

impl Validate for PrometheusReceiverConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.config.scrape_configs.is_empty() {
            return Err(Invalid::at(
                "config.scrape_configs",
                "add at least one scrape config with a job_name and static_configs",
            ));
        }
        for (i, sc) in self.config.scrape_configs.iter().enumerate() {
            let at = |k: &str| format!("config.scrape_configs.{i}.{k}");
            if sc.job_name.is_empty() {
                return Err(Invalid::at(at("job_name"), "is required"));
            }
            if sc.tls_config.is_some() {
                return Err(Invalid::at(at("tls_config"), "scraping over TLS is not supported yet"));
            }
            if !matches!(sc.scheme.as_deref(), None | Some("http" | "https")) {
                return Err(Invalid::at(at("scheme"), "must be http or https"));
            }
            for (j, st) in sc.static_configs.iter().enumerate() {
                for t in &st.targets {
                    crate::config::types::split_host_port(t)
                        .map_err(|e| Invalid::at(format!("{}.{j}.targets", at("static_configs")), e))?;
                }
            }
        }
        Ok(())
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
            for sc in &self.config.scrape_configs {
                for st in &sc.static_configs {
                    for target in &st.targets {
                        let job =
                            Scrape::new(sc, st, target, &self.config.global, client.clone(), consumer.clone(), &ctx);
                        group.spawn(job.run(group.shutdown_signal().token()));
                    }
                }
            }
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}

struct Scrape {
    job: String,
    instance: String,
    scheme: String,
    url: String,
    interval: Duration,
    timeout: Duration,
    labels: BTreeMap<String, String>,
    honor_labels: bool,
    auth: Option<(String, String)>,
    basic: Option<BasicAuth>,
    client: reqwest::Client,
    consumer: std::sync::Arc<dyn Consumer>,
    receiver: String,
}

impl Scrape {
    fn new(
        sc: &ScrapeConfig,
        st: &StaticConfig,
        target: &str,
        global: &Global,
        client: reqwest::Client,
        consumer: std::sync::Arc<dyn Consumer>,
        ctx: &BuildContext,
    ) -> Scrape {
        let scheme = sc.scheme.clone().unwrap_or_else(|| "http".into());
        let path = sc.metrics_path.clone().unwrap_or_else(|| "/metrics".into());
        let mut url = format!("{scheme}://{target}{path}");
        let query: Vec<String> =
            sc.params.iter().flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}={v}"))).collect();
        if !query.is_empty() {
            url = format!("{url}?{}", query.join("&"));
        }
        let mut labels = global.external_labels.clone();
        labels.extend(st.labels.clone());
        let job = labels.remove("job").unwrap_or_else(|| sc.job_name.clone());
        let instance = labels.remove("instance").unwrap_or_else(|| target.to_owned());
        let interval = sc.scrape_interval.unwrap_or(global.scrape_interval).0;
        let timeout = sc.scrape_timeout.unwrap_or(global.scrape_timeout).0.min(interval);
        let auth = match (&sc.authorization, &sc.bearer_token) {
            (Some(a), _) => Some((a.kind.clone().unwrap_or_else(|| "Bearer".into()), a.credentials.clone())),
            (None, Some(t)) => Some(("Bearer".into(), t.clone())),
            _ => None,
        };
        Scrape {
            job,
            instance,
            scheme,
            url,
            interval,
            timeout,
            labels,
            honor_labels: sc.honor_labels,
            auth,
            basic: sc.basic_auth.clone(),
            client,
            consumer,
            receiver: ctx.id.to_string(),
        }
    }

    async fn run(self, stop: CancellationToken) {
        let mut starts = convert::StartTimes::default();
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let began = std::time::Instant::now();
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
            let scraped = self.fetch().await;
            let duration = began.elapsed().as_secs_f64();
            let (families, up) = match scraped {
                Ok(f) => (f, 1.0),
                Err(e) => {
                    tracing::warn!(receiver = %self.receiver, target = %self.url, error = %e, "scrape failed");
                    (Vec::new(), 0.0)
                }
            };
            let samples = families.iter().map(|f| f.samples.len()).sum::<usize>() as f64;
            let extra = vec![
                convert::synthetic("up", "", up, now),
                convert::synthetic("scrape_duration_seconds", "s", duration, now),
                convert::synthetic("scrape_samples_scraped", "", samples, now),
            ];
            let target = convert::Target {
                job: &self.job,
                instance: &self.instance,
                scheme: &self.scheme,
                labels: &self.labels,
                honor_labels: self.honor_labels,
            };
            let resource = convert::to_otlp(&families, &target, &mut starts, now, extra);
            let batch = Batch::from_decoded(Decoded::Metrics(vec![resource]));
            if let Err(e) = self.consumer.consume(batch).await {
                tracing::warn!(receiver = %self.receiver, target = %self.url, error = %e, "the pipeline refused a scrape");
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<parse::Family>, String> {
        let mut req = self
            .client
            .get(&self.url)
            .timeout(self.timeout)
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
            )
            .header("x-prometheus-scrape-timeout-seconds", self.timeout.as_secs_f64().to_string());
        if let Some((kind, credentials)) = &self.auth {
            req = req.header("authorization", format!("{kind} {credentials}"));
        }
        if let Some(b) = &self.basic {
            req = req.basic_auth(&b.username, Some(&b.password));
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let text = resp.text().await.map_err(|e| e.to_string())?;
        parse::parse(&text)
    }
}
