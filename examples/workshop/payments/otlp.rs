//! A minimal OTLP/HTTP (protobuf) exporter for the payments service: spans
//! and log records are buffered and sent every second; the request-duration
//! histogram and the charge counter are cumulative and sent every ten
//! seconds. Built on the `opentelemetry-proto` types the collector already
//! uses, so the service needs no SDK and adds no dependency to the crate.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// The bucket bounds semantic conventions advise for `http.server.request.duration` (seconds).
const DURATION_BOUNDS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
const SCOPE: &str = "workshop.payments";

pub fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

pub fn kv(key: &str, value: impl Into<Attr>) -> KeyValue {
    let value = match value.into() {
        Attr::S(s) => any_value::Value::StringValue(s),
        Attr::I(i) => any_value::Value::IntValue(i),
    };
    KeyValue { key: key.to_owned(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

pub enum Attr {
    S(String),
    I(i64),
}
impl From<&str> for Attr {
    fn from(s: &str) -> Attr {
        Attr::S(s.to_owned())
    }
}
impl From<String> for Attr {
    fn from(s: String) -> Attr {
        Attr::S(s)
    }
}
impl From<i64> for Attr {
    fn from(i: i64) -> Attr {
        Attr::I(i)
    }
}

#[derive(Default)]
struct HistogramPoint {
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
}

#[derive(Default)]
struct Pending {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    /// (method, route, status) -> point
    durations: BTreeMap<(String, String, i64), HistogramPoint>,
    /// outcome -> count
    charges: BTreeMap<String, u64>,
}

pub struct Exporter {
    endpoint: String,
    resource: Resource,
    started: u64,
    client: reqwest::Client,
    pending: Mutex<Pending>,
}

impl Exporter {
    /// `endpoint` is the OTLP/HTTP base URL (`http://host.docker.internal:4318`).
    pub fn new(endpoint: &str, resource: Vec<KeyValue>) -> Exporter {
        Exporter {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            resource: Resource { attributes: resource, ..Default::default() },
            started: now_nanos(),
            client: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client"),
            pending: Mutex::new(Pending::default()),
        }
    }

    pub fn span(&self, span: Span) {
        self.pending.lock().unwrap().spans.push(span);
    }

    pub fn log(&self, record: LogRecord) {
        self.pending.lock().unwrap().logs.push(record);
    }

    pub fn request(&self, method: &str, route: &str, status: i64, seconds: f64) {
        let mut p = self.pending.lock().unwrap();
        let point = p.durations.entry((method.to_owned(), route.to_owned(), status)).or_default();
        point.buckets.resize(DURATION_BOUNDS.len() + 1, 0);
        let i = DURATION_BOUNDS.iter().position(|b| seconds <= *b).unwrap_or(DURATION_BOUNDS.len());
        point.buckets[i] += 1;
        point.count += 1;
        point.sum += seconds;
    }

    pub fn charge(&self, outcome: &str) {
        *self.pending.lock().unwrap().charges.entry(outcome.to_owned()).or_default() += 1;
    }

    /// Sends buffered spans and logs every second and metrics every ten, until the process ends.
    pub async fn run(&self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for n in 0u64.. {
            tick.tick().await;
            self.flush(n % 10 == 9).await;
        }
    }

    async fn flush(&self, with_metrics: bool) {
        let (spans, logs) = {
            let mut p = self.pending.lock().unwrap();
            (std::mem::take(&mut p.spans), std::mem::take(&mut p.logs))
        };
        let scope = Some(InstrumentationScope { name: SCOPE.to_owned(), ..Default::default() });
        if !spans.is_empty() {
            let req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(self.resource.clone()),
                    scope_spans: vec![ScopeSpans { scope: scope.clone(), spans, ..Default::default() }],
                    ..Default::default()
                }],
            };
            self.post("/v1/traces", req.encode_to_vec()).await;
        }
        if !logs.is_empty() {
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(self.resource.clone()),
                    scope_logs: vec![ScopeLogs { scope: scope.clone(), log_records: logs, ..Default::default() }],
                    ..Default::default()
                }],
            };
            self.post("/v1/logs", req.encode_to_vec()).await;
        }
        if with_metrics {
            let metrics = self.metrics();
            let req = ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(self.resource.clone()),
                    scope_metrics: vec![ScopeMetrics { scope, metrics, ..Default::default() }],
                    ..Default::default()
                }],
            };
            self.post("/v1/metrics", req.encode_to_vec()).await;
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let p = self.pending.lock().unwrap();
        let now = now_nanos();
        let cumulative = AggregationTemporality::Cumulative as i32;
        let durations = p
            .durations
            .iter()
            .map(|((method, route, status), h)| HistogramDataPoint {
                attributes: vec![
                    kv("http.request.method", method.as_str()),
                    kv("http.route", route.as_str()),
                    kv("http.response.status_code", *status),
                ],
                start_time_unix_nano: self.started,
                time_unix_nano: now,
                count: h.count,
                sum: Some(h.sum),
                bucket_counts: h.buckets.clone(),
                explicit_bounds: DURATION_BOUNDS.to_vec(),
                ..Default::default()
            })
            .collect();
        let charges = p
            .charges
            .iter()
            .map(|(outcome, n)| NumberDataPoint {
                attributes: vec![kv("outcome", outcome.as_str())],
                start_time_unix_nano: self.started,
                time_unix_nano: now,
                value: Some(number_data_point::Value::AsInt(*n as i64)),
                ..Default::default()
            })
            .collect();
        vec![
            Metric {
                name: "http.server.request.duration".to_owned(),
                description: "Duration of HTTP server requests.".to_owned(),
                unit: "s".to_owned(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: durations,
                    aggregation_temporality: cumulative,
                })),
                ..Default::default()
            },
            Metric {
                name: "payments.charges".to_owned(),
                description: "Charges processed, by outcome.".to_owned(),
                unit: "{charge}".to_owned(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: charges,
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                })),
                ..Default::default()
            },
        ]
    }

    async fn post(&self, path: &str, body: Vec<u8>) {
        let url = format!("{}{path}", self.endpoint);
        let sent = self.client.post(&url).header("content-type", "application/x-protobuf").body(body).send().await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => eprintln!("payments: OTLP export to {url} answered {}", r.status()),
            Err(e) => eprintln!("payments: OTLP export to {url} failed: {e}"),
        }
    }
}
