//! The `prometheus` exporter: serves the metrics it receives on
//! `<endpoint>/metrics` for Prometheus to scrape, translated per the
//! OpenTelemetry/Prometheus compatibility spec (the shared `crate::prometheus`
//! translation), with
//! `target_info` per resource and `job`/`instance` from the service
//! attributes. Series not updated for `metric_expiration` disappear.

pub mod render;
pub mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, Validate,
};
use crate::config::types::{split_host_port, GoDuration};
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::prometheus::ResourceToTelemetry;
use crate::runtime::{serve_http, TaskGroup};
use crate::signal::{Batch, Signal};
use store::{Shape, Store};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusConfig {
    pub endpoint: String,
    pub namespace: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub const_labels: BTreeMap<String, String>,
    pub send_timestamps: bool,
    pub metric_expiration: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub enable_open_metrics: bool,
    pub add_metric_suffixes: bool,
    pub tls: Option<Value>,
    /// where the exposition is served
    pub metrics_path: String,
}

impl Default for PrometheusConfig {
    fn default() -> Self {
        PrometheusConfig {
            endpoint: "localhost:8889".into(),
            namespace: String::new(),
            const_labels: BTreeMap::new(),
            send_timestamps: false,
            metric_expiration: GoDuration::secs(300),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            enable_open_metrics: false,
            add_metric_suffixes: true,
            tls: None,
            metrics_path: "/metrics".into(),
        }
    }
}

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "prometheus",
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<PrometheusConfig>(v)?)),
    }
}

impl Validate for PrometheusConfig {
    fn validate(&self) -> Result<(), Invalid> {
        split_host_port(&self.endpoint).map_err(|e| Invalid::at("endpoint", e))?;
        if self.metric_expiration.is_zero() {
            return Err(Invalid::at("metric_expiration", "must be greater than zero, like \"5m\""));
        }
        if self.tls.is_some() {
            return Err(Invalid::at("tls", "TLS on the metrics endpoint is not supported"));
        }
        if !self.metrics_path.starts_with('/') {
            return Err(Invalid::at("metrics_path", "must be a path starting with /, like /metrics"));
        }
        for key in self.const_labels.keys() {
            if crate::prometheus::names::label_name(key) != *key {
                return Err(Invalid::at(format!("const_labels.{key}"), "is not a valid Prometheus label name"));
            }
        }
        Ok(())
    }
}

impl ExporterConfig for PrometheusConfig {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let shape = Shape {
            settings: crate::prometheus::Settings {
                namespace: self.namespace.clone(),
                add_suffixes: self.add_metric_suffixes,
                resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            },
            const_labels: self.const_labels.clone(),
        };
        let store = Arc::new(Mutex::new(Store::default()));
        let addr = crate::config::types::listen_addrs(&self.endpoint).map_err(anyhow::Error::msg)?;
        let listener = std::net::TcpListener::bind(addr[0]).map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {} for the prometheus exporter: {e}; change exporters.{}.endpoint",
                self.endpoint,
                ctx.id
            )
        })?;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (served, expiration, timestamps) = (store.clone(), self.metric_expiration.0, self.send_timestamps);
        let open_metrics = self.enable_open_metrics;
        let router = axum::Router::new().route(
            &self.metrics_path,
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let store = served.clone();
                async move {
                    let format = negotiate(open_metrics, &headers);
                    let body = {
                        let mut s = store.lock().expect("store lock");
                        s.expire(Instant::now(), expiration);
                        render::render(&s, timestamps, format)
                    };
                    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
                }
            }),
        );
        let server = TaskGroup::new(format!("exporter {}", ctx.id));
        serve_http(&server, listener, router);
        tracing::info!(endpoint = %self.endpoint, exporter = %ctx.id, "prometheus exporter serving /metrics");
        let name = ctx.id.to_string();
        let settings = HelperSettings {
            timeout: Duration::from_secs(30),
            retry: RetryConfig { enabled: false, ..RetryConfig::default() },
            queue: QueueConfig { enabled: false, ..QueueConfig::default() },
        };
        let export = PrometheusExport { store, shape };
        let mut built = helper::build(name.clone(), Box::new(export), settings, ctx.telemetry.exporter(signal, &name));
        built.running = Box::new(server.then(built.running));
        Ok(built)
    }
}

/// OpenMetrics when it is enabled and the scraper accepts it (Prometheus
/// asks for `application/openmetrics-text` first), else the text format.
pub fn negotiate(enabled: bool, headers: &axum::http::HeaderMap) -> render::Format {
    let accepts =
        headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            let refused = params.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
    if enabled && accepts {
        render::Format::OpenMetrics
    } else {
        render::Format::Text
    }
}

struct PrometheusExport {
    store: Arc<Mutex<Store>>,
    shape: Shape,
}

impl Export for PrometheusExport {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let Decoded::Metrics(resources) = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))?
            else {
                return Err(ExportError::Permanent("the prometheus exporter takes metrics only".into()));
            };
            self.store.lock().expect("store lock").ingest(&resources, &self.shape, Instant::now());
            Ok(PartialSuccess::default())
        })
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
