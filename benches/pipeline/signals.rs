//! Payloads for every signal and encoding (the sink walks their ids with `ids`).
//!
//! A request carries 100 items (spans, metric data points or log records),
//! each with an id that holds the run's nonce and the item's sequence number,
//! so the sink can count every item exactly once whatever the signal. Spans
//! and log records carry it as their 8-byte `span_id`; metric data points as a
//! `bench.id` string attribute of 16 hex digits (the same in protobuf and
//! JSON). Templates are encoded once with placeholder ids and patched in place
//! per request, in protobuf or in OTLP/JSON (where ids are hex).

use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otelstack::signal::Signal;
use prost::Message;

use super::payload::{build_request, span_id, SPANS_PER_REQUEST};

/// Items per request, every signal.
pub const ITEMS_PER_REQUEST: usize = SPANS_PER_REQUEST;
const TEMPLATES: usize = 8;
/// The attribute of a metric data point that carries its id.
pub const ID_ATTRIBUTE: &str = "bench.id";
const SPAN_MARKER: [u8; 6] = [0xFE, 0xED, 0xFA, 0xCE, 0xDE, 0xAD];
const TRACE_MARKER: [u8; 14] = [0xCA, 0xFE, 0xBA, 0xBE, 0xCA, 0xFE, 0xBA, 0xBE, 0x0B, 0xAD, 0xF0, 0x0D, 0x00, 0x00];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Proto,
    Json,
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    /// 8 raw bytes: the id of item k.
    Id(u8),
    /// 16 hex digits: the id of item k.
    IdHex(u8),
    /// 16 raw bytes: trace t.
    Trace(u8),
    /// 32 hex digits: trace t.
    TraceHex(u8),
}

struct Template {
    bytes: Vec<u8>,
    slots: Vec<(usize, Slot)>,
}

/// Requests of one signal in one encoding.
pub struct Items {
    nonce: u16,
    templates: Vec<Template>,
}

fn hex(bytes: &[u8]) -> Vec<u8> {
    const D: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [D[usize::from(b >> 4)], D[usize::from(b & 15)]]).collect()
}

fn span_marker(k: usize) -> Vec<u8> {
    let mut v = SPAN_MARKER.to_vec();
    v.extend_from_slice(&[0, k as u8]);
    v
}

fn trace_marker(t: usize) -> Vec<u8> {
    let mut v = TRACE_MARKER.to_vec();
    v.extend_from_slice(&[0, t as u8]);
    v
}

impl Template {
    /// Finds the placeholders (raw and hex) in an encoded request.
    fn new(bytes: Vec<u8>) -> Self {
        let (span_hex, trace_hex) = (hex(&SPAN_MARKER), hex(&TRACE_MARKER));
        let mut slots = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            if rest.len() >= 8 && rest[..6] == SPAN_MARKER && rest[6] == 0 {
                slots.push((i, Slot::Id(rest[7])));
                i += 8;
            } else if rest.len() >= 16 && rest[..14] == TRACE_MARKER {
                slots.push((i, Slot::Trace(rest[15])));
                i += 16;
            } else if rest.len() >= 16 && rest[..12] == span_hex[..] && &rest[12..14] == b"00" {
                slots.push((i, Slot::IdHex(unhex_byte(&rest[14..16]))));
                i += 16;
            } else if rest.len() >= 32 && rest[..28] == trace_hex[..] && &rest[28..30] == b"00" {
                slots.push((i, Slot::TraceHex(unhex_byte(&rest[30..32]))));
                i += 32;
            } else {
                i += 1;
            }
        }
        Template { bytes, slots }
    }
}

pub fn unhex_byte(two: &[u8]) -> u8 {
    u8::from_str_radix(std::str::from_utf8(two).unwrap_or("00"), 16).unwrap_or(0)
}

impl Items {
    pub fn new(signal: Signal, encoding: Encoding, nonce: u16) -> Self {
        let mut rng = fastrand::Rng::with_seed(0x5167_A15E);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        let templates = (0..TEMPLATES)
            .map(|i| {
                let bytes = match (signal, encoding) {
                    (Signal::Traces, Encoding::Proto) => build_request(&mut rng, i, now).encode_to_vec(),
                    (Signal::Traces, Encoding::Json) => serde_json::to_vec(&build_request(&mut rng, i, now)).unwrap(),
                    (Signal::Metrics, Encoding::Proto) => metrics_request(&mut rng, i, now).encode_to_vec(),
                    (Signal::Metrics, Encoding::Json) => {
                        serde_json::to_vec(&metrics_request(&mut rng, i, now)).unwrap()
                    }
                    (Signal::Logs, Encoding::Proto) => logs_request(&mut rng, i, now).encode_to_vec(),
                    (Signal::Logs, Encoding::Json) => serde_json::to_vec(&logs_request(&mut rng, i, now)).unwrap(),
                };
                let t = Template::new(bytes);
                let ids = t.slots.iter().filter(|(_, s)| matches!(s, Slot::Id(_) | Slot::IdHex(_))).count();
                assert!(ids >= ITEMS_PER_REQUEST, "{signal:?} {encoding:?} template: {ids} id slots");
                t
            })
            .collect();
        Items { nonce, templates }
    }

    /// Encoded request number `n`: items `n*100 .. n*100+99`.
    pub fn request(&self, n: u64) -> Bytes {
        let t = &self.templates[(n % self.templates.len() as u64) as usize];
        let mut buf = BytesMut::from(&t.bytes[..]);
        let base = n * ITEMS_PER_REQUEST as u64;
        for &(off, slot) in &t.slots {
            match slot {
                Slot::Id(k) => {
                    buf[off..off + 8].copy_from_slice(&span_id(self.nonce, base + u64::from(k)).to_be_bytes())
                }
                Slot::IdHex(k) => {
                    buf[off..off + 16].copy_from_slice(&hex(&span_id(self.nonce, base + u64::from(k)).to_be_bytes()))
                }
                Slot::Trace(t) => buf[off..off + 16].copy_from_slice(&self.trace_id(n, t)),
                Slot::TraceHex(t) => buf[off..off + 32].copy_from_slice(&hex(&self.trace_id(n, t))),
            }
        }
        buf.freeze()
    }

    fn trace_id(&self, n: u64, t: u8) -> [u8; 16] {
        let mut id = [0u8; 16];
        id[0..2].copy_from_slice(&self.nonce.to_be_bytes());
        id[2..4].copy_from_slice(&[0x7e, 0x57]);
        id[8..16].copy_from_slice(&(n * 10 + u64::from(t) + 1).to_be_bytes());
        id
    }

    /// Decodes one generated request and checks that the sink's walker finds
    /// exactly its 100 ids, in order.
    pub fn self_check(&self, signal: Signal, encoding: Encoding) {
        let n = 5;
        let body = self.request(n);
        let proto = match encoding {
            Encoding::Proto => body.to_vec(),
            Encoding::Json => {
                otelstack::otlp::decode_json_unchecked(signal, &body).expect("JSON decodes").encode_request()
            }
        };
        let mut seqs = Vec::new();
        assert!(super::ids::walk_item_ids(signal, &proto, &mut |id| seqs.push(super::payload::parse_span_id(id))));
        let want: Vec<_> = (0..ITEMS_PER_REQUEST as u64).map(|k| Some((self.nonce, n * 100 + k))).collect();
        assert_eq!(seqs, want, "{signal:?} {encoding:?} ids");
    }

    pub fn avg_request_bytes(&self) -> usize {
        self.templates.iter().map(|t| t.bytes.len()).sum::<usize>() / self.templates.len()
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn resource(idx: usize, rng: &mut fastrand::Rng) -> Resource {
    const SERVICES: &[&str] = &["frontend", "checkout", "cart", "payment", "inventory", "shipping"];
    let service = SERVICES[idx % SERVICES.len()];
    Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", format!("1.{}.0", idx % 5)),
            s("service.namespace", "shop"),
            s("deployment.environment.name", "production"),
            s("host.name", format!("{service}-{:08x}", rng.u32(..))),
            s("k8s.pod.name", format!("{service}-7d9f-{:05x}", rng.u32(..0xfffff))),
            s("telemetry.sdk.language", "rust"),
        ],
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "opentelemetry-instrumentation-shop".into(),
        version: "0.52.0".into(),
        ..Default::default()
    })
}

/// 10 metrics (5 cumulative int sums, 5 double gauges) of 10 data points each,
/// each point with 4 attributes and its `bench.id`.
fn metrics_request(rng: &mut fastrand::Rng, idx: usize, now: u64) -> ExportMetricsServiceRequest {
    const NAMES: &[&str] = &[
        "http.server.request.count",
        "db.client.operation.count",
        "rpc.client.request.count",
        "messaging.publish.messages",
        "process.cpu.time",
        "system.memory.utilization",
        "jvm.thread.count",
        "http.client.open_connections",
        "queue.depth",
        "cache.hit_ratio",
    ];
    let metrics = NAMES
        .iter()
        .enumerate()
        .map(|(m, name)| {
            let points: Vec<NumberDataPoint> = (0..10)
                .map(|p| NumberDataPoint {
                    attributes: vec![
                        s("http.route", format!("/api/v1/r{}", p % 5)),
                        s("http.request.method", ["GET", "POST"][p % 2]),
                        kv("http.response.status_code", any_value::Value::IntValue([200, 404, 500][p % 3])),
                        s("server.address", format!("svc-{}.internal", rng.u8(..16))),
                        kv(
                            ID_ATTRIBUTE,
                            any_value::Value::StringValue(String::from_utf8(hex(&span_marker(m * 10 + p))).unwrap()),
                        ),
                    ],
                    start_time_unix_nano: now - 3_600_000_000_000,
                    time_unix_nano: now - rng.u64(0..10_000_000_000),
                    value: Some(if m < 5 {
                        number_data_point::Value::AsInt(rng.i64(0..1_000_000))
                    } else {
                        number_data_point::Value::AsDouble(rng.f64() * 100.0)
                    }),
                    ..Default::default()
                })
                .collect();
            let data = if m < 5 {
                metric::Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })
            } else {
                metric::Data::Gauge(Gauge { data_points: points })
            };
            Metric {
                name: (*name).into(),
                unit: "1".into(),
                description: String::new(),
                data: Some(data),
                ..Default::default()
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource(idx, rng)),
            scope_metrics: vec![ScopeMetrics { scope: scope(), metrics, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}

/// 100 log records in 10 traces: severity, a message body, 6 attributes.
fn logs_request(rng: &mut fastrand::Rng, idx: usize, now: u64) -> ExportLogsServiceRequest {
    const MESSAGES: &[&str] = &[
        "request completed",
        "cache miss for key product:{id}, loading from database",
        "payment authorized for order {id}",
        "retrying upstream call after timeout (attempt 2 of 3)",
        "user session refreshed",
    ];
    let records = (0..ITEMS_PER_REQUEST)
        .map(|k| {
            let error = k % 17 == 0;
            LogRecord {
                time_unix_nano: now - rng.u64(0..10_000_000_000),
                observed_time_unix_nano: now,
                severity_number: if error { SeverityNumber::Error } else { SeverityNumber::Info } as i32,
                severity_text: if error { "ERROR" } else { "INFO" }.into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(
                        MESSAGES[k % MESSAGES.len()].replace("{id}", &rng.u32(..1_000_000).to_string()),
                    )),
                }),
                attributes: vec![
                    s("code.function.name", format!("handle_{}", k % 7)),
                    s("code.file.path", format!("src/handlers/h{}.rs", k % 7)),
                    kv("code.line.number", any_value::Value::IntValue(rng.i64(1..500))),
                    s("user.id", format!("u-{}", rng.u32(1..50_000))),
                    kv("http.response.status_code", any_value::Value::IntValue(if error { 500 } else { 200 })),
                    s("thread.name", format!("worker-{}", k % 4)),
                ],
                flags: 1,
                trace_id: trace_marker(k / 10),
                span_id: span_marker(k),
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource(idx, rng)),
            scope_logs: vec![ScopeLogs { scope: scope(), log_records: records, schema_url: String::new() }],
            schema_url: String::new(),
        }],
    }
}
