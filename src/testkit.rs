//! Test helpers: a consumer that collects what arrives, and builders for
//! OTLP data with predictable ids and attributes.

use std::sync::Mutex;

use futures::future::BoxFuture;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{metric, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use crate::component::{ConsumeError, Consumer};
use crate::otlp::data::Decoded;
use crate::signal::Batch;

/// Collects every batch; can be told to refuse the next N calls.
#[derive(Default)]
pub struct CollectSink {
    pub batches: Mutex<Vec<Batch>>,
    pub refuse_next: Mutex<usize>,
}

impl CollectSink {
    pub fn items(&self) -> usize {
        self.batches.lock().unwrap().iter().map(Batch::items).sum()
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.batches.lock().unwrap().iter().map(Batch::items).collect()
    }

    /// Every span name that arrived, in order.
    pub fn span_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        for b in self.batches.lock().unwrap().iter() {
            if let Decoded::Traces(rs) = b.decoded().unwrap() {
                for r in rs {
                    for s in r.scope_spans {
                        out.extend(s.spans.into_iter().map(|sp| sp.name));
                    }
                }
            }
        }
        out
    }
}

impl Consumer for CollectSink {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            {
                let mut refuse = self.refuse_next.lock().unwrap();
                if *refuse > 0 {
                    *refuse -= 1;
                    return Err(ConsumeError::refused("test sink refuses"));
                }
            }
            self.batches.lock().unwrap().push(batch);
            Ok(())
        })
    }
}

pub fn kv(key: &str, value: V) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

pub fn s(v: &str) -> V {
    V::StringValue(v.into())
}

pub fn resource(service: &str) -> Option<Resource> {
    Some(Resource { attributes: vec![kv("service.name", s(service))], ..Default::default() })
}

/// `n` spans named `{prefix}-{i}` with span id `i` under one resource and scope.
pub fn spans(service: &str, prefix: &str, n: usize) -> ResourceSpans {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![1; 16],
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            name: format!("{prefix}-{i}"),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_000_001_000,
            attributes: vec![kv("http.method", s("GET")), kv("n", V::IntValue(i as i64))],
            ..Default::default()
        })
        .collect();
    ResourceSpans {
        resource: resource(service),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope { name: "test".into(), version: "1".into(), ..Default::default() }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

pub fn traces_batch(rs: Vec<ResourceSpans>) -> Batch {
    Batch::from_decoded(Decoded::Traces(rs))
}

/// A gauge with `points` data points.
pub fn gauge(name: &str, points: usize) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: (0..points)
                .map(|i| NumberDataPoint {
                    attributes: vec![kv("i", V::IntValue(i as i64))],
                    time_unix_nano: 1,
                    value: Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i as i64)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

pub fn metrics(service: &str, metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: resource(service),
        scope_metrics: vec![ScopeMetrics { scope: None, metrics, schema_url: String::new() }],
        schema_url: String::new(),
    }
}

pub fn logs(service: &str, bodies: &[&str]) -> ResourceLogs {
    ResourceLogs {
        resource: resource(service),
        scope_logs: vec![ScopeLogs {
            scope: None,
            log_records: bodies
                .iter()
                .map(|b| LogRecord {
                    body: Some(AnyValue { value: Some(s(b)) }),
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    attributes: vec![kv("k", s("v"))],
                    ..Default::default()
                })
                .collect(),
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}
