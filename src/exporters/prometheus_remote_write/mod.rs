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
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, Validate,
};
use crate::config::types::GoDuration;
use crate::exporters::prometheus::ResourceToTelemetry;
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteQueue {
    pub enabled: bool,
    pub queue_size: usize,
    pub num_consumers: usize,
}

impl Default for RemoteWriteQueue {
    fn default() -> Self {
        RemoteWriteQueue { enabled: true, queue_size: 10_000, num_consumers: 5 }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetInfo {
    pub enabled: bool,
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
    pub max_batch_size_bytes: usize,
    pub target_info: Option<TargetInfo>,
    pub export_created_metric: Option<Value>,
    pub wal: Option<Value>,
    pub compression: Option<String>,
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
        }
    }
}

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "prometheusremotewrite",
        signals: &[Signal::Metrics],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<RemoteWriteConfig>(v)?)),
    }
}

impl Validate for RemoteWriteConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.is_empty() {
            return Err(Invalid::at("endpoint", "is required, like \"http://prometheus:9090/api/v1/write\""));
        }
        reqwest::Url::parse(&self.endpoint)
            .map_err(|e| Invalid::at("endpoint", format!("{:?} is not a URL: {e}", self.endpoint)))?;
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
            namespace: self.namespace.clone(),
            external_labels: self.external_labels.clone(),
            resource_to_telemetry: self.resource_to_telemetry_conversion.enabled,
            add_suffixes: self.add_metric_suffixes,
        };
        let export = RemoteWrite { client, url: self.endpoint.clone(), shape, send_metadata: self.send_metadata };
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

struct RemoteWrite {
    client: reqwest::Client,
    url: String,
    shape: convert::Shape,
    send_metadata: bool,
}

impl RemoteWrite {
    /// The snappy-compressed `WriteRequest` for a batch.
    fn body(&self, batch: &Batch) -> Result<Vec<u8>, ExportError> {
        let Decoded::Metrics(resources) = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))? else {
            return Err(ExportError::Permanent("remote write takes metrics only".into()));
        };
        let request = convert::convert(&resources, &self.shape).into_request(self.send_metadata);
        snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| ExportError::Permanent(e.to_string()))
    }
}

impl Export for RemoteWrite {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let body = self.body(&batch)?;
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
                return Ok(PartialSuccess::default());
            }
            let retry_after =
                resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
            let text = resp.text().await.unwrap_or_default();
            let message =
                format!("HTTP {status} from {}: {}", self.url, text.trim().chars().take(300).collect::<String>());
            Err(if status.is_server_error() || status.as_u16() == 429 {
                ExportError::Retryable { message, retry_after }
            } else {
                ExportError::Permanent(message)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{gauge, metrics};

    #[test]
    fn converts_with_sorted_labels_and_external_labels() {
        let shape = convert::Shape {
            external_labels: [("collector_label".to_string(), "10.0.0.1".to_string())].into(),
            add_suffixes: true,
            ..Default::default()
        };
        let req = convert::convert(&[metrics("svc", vec![gauge("queue.depth", 2)])], &shape).into_request(false);
        assert_eq!(req.timeseries.len(), 2);
        for ts in &req.timeseries {
            let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(names, sorted, "labels sorted and unique");
            assert!(ts.labels.contains(&proto::Label { name: "__name__".into(), value: "queue_depth".into() }));
            assert!(ts.labels.contains(&proto::Label { name: "collector_label".into(), value: "10.0.0.1".into() }));
            assert!(ts.labels.contains(&proto::Label { name: "job".into(), value: "svc".into() }));
        }
        let values: Vec<f64> = req.timeseries.iter().map(|t| t.samples[0].value).collect();
        assert_eq!(values, vec![0.0, 1.0]);
    }

    #[test]
    fn exemplars_go_to_the_counter_and_to_the_bucket_their_value_falls_in() {
        use opentelemetry_proto::tonic::metrics::v1::{
            exemplar, metric, AggregationTemporality, Exemplar, Histogram, HistogramDataPoint, Metric,
        };
        let ex = |v: f64, span: u8| Exemplar {
            trace_id: vec![0xab; 16],
            span_id: vec![span; 8],
            time_unix_nano: 1_700_000_000_123_000_000,
            value: Some(exemplar::Value::AsDouble(v)),
            ..Default::default()
        };
        let hist = Metric {
            name: "duration".into(),
            unit: "ms".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    count: 3,
                    sum: Some(70.0),
                    bucket_counts: vec![1, 1, 1],
                    explicit_bounds: vec![5.0, 50.0],
                    exemplars: vec![ex(3.0, 1), ex(60.0, 2), Exemplar { trace_id: vec![], ..ex(7.0, 3) }],
                    time_unix_nano: 1_700_000_000_200_000_000,
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        };
        let shape = convert::Shape { add_suffixes: true, ..Default::default() };
        let req = convert::convert(&[metrics("svc", vec![hist])], &shape).into_request(false);
        let series = |le: &str| {
            req.timeseries
                .iter()
                .find(|t| t.labels.iter().any(|l| l.name == "le" && l.value == le))
                .unwrap_or_else(|| panic!("bucket {le}"))
        };
        let span = |t: &proto::TimeSeries| -> Vec<String> {
            t.exemplars.iter().map(|e| e.labels.iter().find(|l| l.name == "span_id").unwrap().value.clone()).collect()
        };
        assert_eq!(span(series("5")), vec!["0101010101010101"]);
        assert!(series("50").exemplars.is_empty(), "the exemplar without a trace id is left out");
        assert_eq!(span(series("+Inf")), vec!["0202020202020202"]);
        let e = &series("5").exemplars[0];
        assert_eq!((e.value, e.timestamp), (3.0, 1_700_000_000_123));
        assert_eq!(e.labels[1], proto::Label { name: "trace_id".into(), value: "ab".repeat(16) });
        assert!(req
            .timeseries
            .iter()
            .filter(|t| !t.labels.iter().any(|l| l.name == "le"))
            .all(|t| t.exemplars.is_empty()));
    }

    #[test]
    fn empty_external_label_is_a_config_error() {
        let cfg: RemoteWriteConfig = serde_json::from_value(serde_json::json!({
            "endpoint": "http://p:9090/api/v1/write", "external_labels": {"collector_label": ""}
        }))
        .unwrap();
        assert_eq!(cfg.validate().unwrap_err().path, "external_labels.collector_label");
    }
}
