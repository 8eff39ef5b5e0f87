//! The `prometheusremotewrite` exporter: remote write 1.0 (protobuf
//! `WriteRequest`, snappy block compression, the required headers) with
//! sorted, unique labels and time-ordered samples per series. Retries 5xx
//! and 429 only; other 4xx are permanent, as the spec requires.

mod convert;
pub mod proto;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use prost::Message;
use serde::Deserialize;
use serde_json::Value;

use super::client::{parse_retry_after, TlsClientConfig};
use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::config::types::GoDuration;
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::prometheus::ResourceToTelemetry;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    pub queue_size: usize,
    pub num_consumers: usize,
    /// refused: batching by request metadata needs client metadata
    pub include_metadata_keys: Option<Vec<String>>,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        RemoteWriteQueue { enabled: true, queue_size: 10_000, num_consumers: 5, include_metadata_keys: None }
    }
}

/// `target_info`: whether each resource's attributes go out as a
/// `target_info` series (on by default, as in otelcol).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetInfo {
    pub enabled: bool,
}

impl Default for TargetInfo {
    fn default() -> Self {
        TargetInfo { enabled: true }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteConfig {
    pub endpoint: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub headers: BTreeMap<String, String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub external_labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub tls: TlsClientConfig,
    pub namespace: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub resource_to_telemetry_conversion: ResourceToTelemetry,
    pub add_metric_suffixes: bool,
    pub send_metadata: bool,
    pub timeout: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub remote_write_queue: RemoteWriteQueue,
    /// a batch's series go out in requests of at most this many bytes
    pub max_batch_size_bytes: usize,
    pub target_info: Option<TargetInfo>,
    /// refused when enabled: `_created` series are not produced
    pub export_created_metric: Option<Value>,
    pub wal: Option<Value>,
    pub compression: Option<String>,
    /// how many of a batch's requests (cut at max_batch_size_bytes) are in
    /// flight at once; remote_write_queue.num_consumers when unset, as upstream
    pub max_batch_request_parallelism: Option<usize>,
    /// remote write 1.0 only: `prometheus.WriteRequest`
    pub protobuf_message: Option<String>,
    /// only the default, `UnderscoreEscapingWithSuffixes`
    pub translation_strategy: Option<String>,
    /// refused, as on the other HTTP exporters
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub idle_conn_timeout: Option<GoDuration>,
    pub disable_keep_alives: bool,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        RemoteWriteConfig {
            endpoint: String::new(),
            headers: BTreeMap::new(),
            external_labels: BTreeMap::new(),
            tls: TlsClientConfig::default(),
            namespace: String::new(),
            resource_to_telemetry_conversion: ResourceToTelemetry::default(),
            add_metric_suffixes: true,
            send_metadata: false,
            timeout: GoDuration::secs(5),
            retry_on_failure: RetryConfig::default(),
            remote_write_queue: RemoteWriteQueue::default(),
            max_batch_size_bytes: 3_000_000,
            target_info: None,
            export_created_metric: None,
            wal: None,
            compression: None,
            max_batch_request_parallelism: None,
            protobuf_message: None,
            translation_strategy: None,
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
            disable_keep_alives: false,
        }
    }
}

/// `prometheusremotewrite`, and `prometheus_remote_write`, the name newer
/// otelcol-contrib releases give it.
pub fn factory(type_name: &'static str) -> Factory<dyn ExporterConfig> {
    Factory {
        type_name,
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<RemoteWriteConfig>(v)?)),
    }
}

impl Validate for RemoteWriteConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.is_empty() {
            return Err(Invalid::at("endpoint", "is required, like \"http://prometheus:9090/api/v1/write\""));
        }
        reqwest::Url::parse(&self.endpoint)
            .map_err(|e| Invalid::at("endpoint", format!("{:?} is not a URL: {e}", self.endpoint)))?;
        if self.max_batch_request_parallelism == Some(0) {
            return Err(Invalid::at("max_batch_request_parallelism", "must be at least 1"));
        }
        match self.protobuf_message.as_deref() {
            None | Some("prometheus.WriteRequest") => {}
            Some("io.prometheus.write.v2.Request") => {
                return Err(Invalid::at(
                    "protobuf_message",
                    "remote write 2.0 is not supported: requests are remote write 1.0; remove protobuf_message \
                     or set it to prometheus.WriteRequest",
                ))
            }
            Some(other) => {
                return Err(Invalid::at(
                    "protobuf_message",
                    format!("{other:?} is not a remote write message; use prometheus.WriteRequest"),
                ))
            }
        }
        match self.translation_strategy.as_deref() {
            None | Some("UnderscoreEscapingWithSuffixes") => {}
            Some(s @ ("UnderscoreEscapingWithoutSuffixes" | "NoUTF8EscapingWithSuffixes" | "NoTranslation")) => {
                return Err(Invalid::at(
                    "translation_strategy",
                    format!(
                        "{s:?} is not supported: names are translated as UnderscoreEscapingWithSuffixes \
                         (add_metric_suffixes: false drops the suffixes); remove translation_strategy"
                    ),
                ))
            }
            Some(other) => {
                return Err(Invalid::at("translation_strategy", format!("{other:?} is not a translation strategy")))
            }
        }
        if self.remote_write_queue.include_metadata_keys.is_some() {
            return Err(Invalid::at(
                "remote_write_queue.include_metadata_keys",
                "is not supported: client metadata is not carried through the pipeline here; remove it",
            ));
        }
        crate::exporters::client::refuse_connection_tuning(&[
            ("read_buffer_size", self.read_buffer_size.is_some()),
            ("write_buffer_size", self.write_buffer_size.is_some()),
            ("max_idle_conns", self.max_idle_conns.is_some()),
            ("idle_conn_timeout", self.idle_conn_timeout.is_some()),
            ("disable_keep_alives", self.disable_keep_alives),
        ])?;
        if self.max_batch_size_bytes == 0 {
            return Err(Invalid::at("max_batch_size_bytes", "must be greater than 0"));
        }
        if self.export_created_metric.as_ref().and_then(|v| v.get("enabled")).and_then(Value::as_bool) == Some(true) {
            return Err(Invalid::at(
                "export_created_metric.enabled",
                "is not supported: no _created series are sent (Prometheus reads a counter's start from its \
                 resets); remove export_created_metric",
            ));
        }
        if self.wal.is_some() {
            return Err(Invalid::at(
                "wal",
                "the write-ahead log is not supported; use sending queues on a persistent storage instead",
            ));
        }
        if self.compression.as_deref().is_some_and(|c| c != "snappy") {
            return Err(Invalid::at("compression", "remote write 1.0 uses snappy"));
        }
        for (k, v) in &self.external_labels {
            if v.is_empty() {
                return Err(Invalid::at(
                    format!("external_labels.{k}"),
                    "is empty: remote write forbids empty label values (is an environment variable unset?)",
                ));
            }
        }
        self.tls.validate()?;
        self.retry_on_failure.validate()
    }
}

impl ExporterConfig for RemoteWriteConfig {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let client = crate::exporters::client::http_client(&self.tls, &[b"h2", b"http/1.1"], &self.headers)?;
        let shape = convert::Shape {
            settings: crate::prometheus::Settings {
                namespace: self.namespace.clone(),
                add_suffixes: self.add_metric_suffixes,
                resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            },
            external_labels: self.external_labels.clone(),
            target_info: self.target_info.as_ref().is_none_or(|t| t.enabled),
        };
        let export = RemoteWrite {
            name: ctx.id.to_string(),
            client,
            url: self.endpoint.clone(),
            shape,
            send_metadata: self.send_metadata,
            max_bytes: self.max_batch_size_bytes,
            parallelism: self.max_batch_request_parallelism.unwrap_or(self.remote_write_queue.num_consumers).max(1),
        };
        let q = &self.remote_write_queue;
        let settings = HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: QueueConfig {
                enabled: q.enabled,
                queue_size: q.queue_size,
                num_consumers: q.num_consumers,
                ..QueueConfig::default()
            },
        };
        let name = ctx.id.to_string();
        Ok(helper::build(name.clone(), Box::new(export), settings, ctx.telemetry.exporter(signal, &name)))
    }
}

/// What Prometheus 2.40+ answers when native histograms arrive and the feature is off.
const NATIVE_HISTOGRAMS_DISABLED: &str = "native histograms are disabled";

struct RemoteWrite {
    name: String,
    client: reqwest::Client,
    url: String,
    shape: convert::Shape,
    send_metadata: bool,
    max_bytes: usize,
    parallelism: usize,
}

impl RemoteWrite {
    /// The snappy-compressed `WriteRequest`s for a batch, cut at `max_bytes`.
    fn bodies(&self, batch: &Batch) -> Result<Vec<Vec<u8>>, ExportError> {
        let Decoded::Metrics(resources) = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))? else {
            return Err(ExportError::Permanent("remote write takes metrics only".into()));
        };
        let converted = convert::convert(&resources, &self.shape);
        for error in &converted.errors {
            tracing::warn!(exporter = %self.name, "point not sent: {error}");
        }
        let requests = converted.into_requests(self.send_metadata, self.max_bytes);
        requests
            .iter()
            .map(|r| {
                snap::raw::Encoder::new()
                    .compress_vec(&r.encode_to_vec())
                    .map_err(|e| ExportError::Permanent(e.to_string()))
            })
            .collect()
    }
}

impl Export for RemoteWrite {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            use futures::{StreamExt, TryStreamExt};
            futures::stream::iter(self.bodies(&batch)?)
                .map(|body| self.post(body))
                .buffer_unordered(self.parallelism)
                .try_collect::<Vec<()>>()
                .await?;
            Ok(PartialSuccess::default())
        })
    }
}

impl RemoteWrite {
    async fn post(&self, body: Vec<u8>) -> Result<(), ExportError> {
        {
            let resp = self
                .client
                .post(&self.url)
                .header("content-encoding", "snappy")
                .header("content-type", "application/x-protobuf")
                .header("x-prometheus-remote-write-version", "0.1.0")
                .body(body)
                .send()
                .await
                .map_err(|e| ExportError::retryable(format!("{}: {e}", self.url)))?;
            let status = resp.status();
            if status.is_success() {
                return Ok(());
            }
            let retry_after =
                resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let text = resp.text().await.unwrap_or_default();
            let mut message =
                format!("HTTP {status} from {}: {}", self.url, text.trim().chars().take(300).collect::<String>());
            // Prometheus 2.x answers 500 to every request with a native histogram unless the
            // feature is on: no retry can succeed until the server is restarted with it
            if text.contains(NATIVE_HISTOGRAMS_DISABLED) {
                message.push_str(
                    "; the batch held exponential histograms, which go out as native histograms: start \
                     Prometheus with --enable-feature=native-histograms, or keep exponential histograms \
                     out of this pipeline",
                );
                return Err(ExportError::Permanent(message));
            }
            Err(if status.is_server_error() || status.as_u16() == 429 {
                ExportError::Retryable { message, retry_after }
            } else {
                ExportError::Permanent(message)
            })
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
