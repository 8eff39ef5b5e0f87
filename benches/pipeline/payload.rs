//! Pre-encoded `ExportTraceServiceRequest` payloads with unique ids.
//!
//! A handful of realistic requests (100 spans each, 10 attributes per span,
//! 10 traces of 10 spans) are built and encoded once with placeholder ids.
//! Producing request number `n` is then a memcpy of the template plus patching
//! the 8-byte span ids and 16-byte trace ids in place, so the generator stays
//! cheap and every span carries a sequence number the sink can check.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

pub const SPANS_PER_REQUEST: usize = 100;
const TRACES_PER_REQUEST: usize = 10;
const SPANS_PER_TRACE: usize = SPANS_PER_REQUEST / TRACES_PER_REQUEST;
const TEMPLATES: usize = 16;

/// Placeholder span id: 6 fixed bytes, then the span's index in the request.
const SPAN_MARKER: [u8; 6] = [0xFE, 0xED, 0xFA, 0xCE, 0xDE, 0xAD];
/// Placeholder trace id: 14 fixed bytes, then the trace's index in the request.
const TRACE_MARKER: [u8; 14] = [0xCA, 0xFE, 0xBA, 0xBE, 0xCA, 0xFE, 0xBA, 0xBE, 0x0B, 0xAD, 0xF0, 0x0D, 0x00, 0x00];

/// Span id of span number `seq` in a run tagged `nonce`: 2 bytes nonce, 6 bytes `seq + 1`.
pub fn span_id(nonce: u16, seq: u64) -> u64 {
    debug_assert!(seq + 1 < (1 << 48));
    (u64::from(nonce) << 48) | (seq + 1)
}

/// Inverse of [`span_id`]: `(nonce, seq)`.
pub fn parse_span_id(id: &[u8]) -> Option<(u16, u64)> {
    let raw = u64::from_be_bytes(id.try_into().ok()?);
    let seq = raw & ((1 << 48) - 1);
    if seq == 0 {
        return None;
    }
    Some(((raw >> 48) as u16, seq - 1))
}

struct Template {
    bytes: Vec<u8>,
    /// (offset, span index within the request); span ids and parent span ids.
    span_slots: Vec<(usize, u8)>,
    /// (offset, trace index within the request).
    trace_slots: Vec<(usize, u8)>,
}

pub struct Payloads {
    nonce: u16,
    templates: Vec<Template>,
}

impl Payloads {
    pub fn new(nonce: u16) -> Self {
        let mut rng = fastrand::Rng::with_seed(0x0715_7ACC);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64;
        let templates = (0..TEMPLATES).map(|i| Template::new(build_request(&mut rng, i, now))).collect();
        Payloads { nonce, templates }
    }

    /// Decodes one generated request and checks ids and attribute counts.
    pub fn self_check(&self) {
        let n = 3;
        let req = ExportTraceServiceRequest::decode(self.request(n)).expect("decodes");
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), SPANS_PER_REQUEST);
        for (k, span) in spans.iter().enumerate() {
            let seq = n * SPANS_PER_REQUEST as u64 + k as u64;
            assert_eq!(parse_span_id(&span.span_id), Some((self.nonce, seq)));
            assert_eq!(span.trace_id[0..2], self.nonce.to_be_bytes());
            assert_eq!(span.attributes.len(), 10);
        }
    }

    /// Average encoded size of a request, in bytes.
    pub fn avg_request_bytes(&self) -> usize {
        self.templates.iter().map(|t| t.bytes.len()).sum::<usize>() / self.templates.len()
    }

    /// Encoded request number `n`: spans `n*100 .. n*100+99`.
    pub fn request(&self, n: u64) -> Bytes {
        let t = &self.templates[(n % self.templates.len() as u64) as usize];
        let mut buf = BytesMut::with_capacity(t.bytes.len());
        buf.extend_from_slice(&t.bytes);
        let base = n * SPANS_PER_REQUEST as u64;
        for &(off, k) in &t.span_slots {
            let id = span_id(self.nonce, base + u64::from(k));
            buf[off..off + 8].copy_from_slice(&id.to_be_bytes());
        }
        let mut trace_id = [0u8; 16];
        trace_id[0..2].copy_from_slice(&self.nonce.to_be_bytes());
        trace_id[2..4].copy_from_slice(&[0x7e, 0x57]);
        for &(off, k) in &t.trace_slots {
            let low = n * TRACES_PER_REQUEST as u64 + u64::from(k) + 1;
            trace_id[8..16].copy_from_slice(&low.to_be_bytes());
            buf[off..off + 16].copy_from_slice(&trace_id);
        }
        buf.freeze()
    }
}

impl Template {
    fn new(req: ExportTraceServiceRequest) -> Self {
        let bytes = req.encode_to_vec();
        let mut span_slots = Vec::new();
        let mut trace_slots = Vec::new();
        let mut i = 0;
        while i + 8 <= bytes.len() {
            if bytes[i..i + 6] == SPAN_MARKER && bytes[i + 6] == 0 {
                span_slots.push((i, bytes[i + 7]));
                i += 8;
            } else if i + 16 <= bytes.len() && bytes[i..i + 14] == TRACE_MARKER {
                trace_slots.push((i, bytes[i + 15]));
                i += 16;
            } else {
                i += 1;
            }
        }
        // Every span has an id, every non-root span a parent id, every span a trace id.
        let parents = SPANS_PER_REQUEST - TRACES_PER_REQUEST;
        assert_eq!(span_slots.len(), SPANS_PER_REQUEST + parents, "span id slots");
        assert_eq!(trace_slots.len(), SPANS_PER_REQUEST, "trace id slots");
        Template { bytes, span_slots, trace_slots }
    }
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

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn b(key: &str, v: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(v))
}

fn d(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

const SERVICES: &[&str] = &["frontend", "checkout", "cart", "payment", "inventory", "shipping", "recommendation", "ad"];
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/users/{id}"),
    ("GET", "/api/v1/products"),
    ("POST", "/api/v1/checkout"),
    ("GET", "/api/v1/cart/{userId}"),
    ("PUT", "/api/v1/cart/{userId}/items"),
    ("DELETE", "/api/v1/sessions/{sessionId}"),
];
const TABLES: &[&str] = &["orders", "users", "products", "cart_items", "payments"];
const RPCS: &[(&str, &str)] = &[
    ("oteldemo.CartService", "GetCart"),
    ("oteldemo.ProductCatalogService", "ListProducts"),
    ("oteldemo.CurrencyService", "Convert"),
    ("oteldemo.ShippingService", "GetQuote"),
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
];

fn pick<'a, T>(rng: &mut fastrand::Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.usize(..xs.len())]
}

/// Name, kind and exactly 10 attributes (string, int, bool and double) of one span.
fn span_body(rng: &mut fastrand::Rng, pos: usize, service: &str) -> (String, SpanKind, Vec<KeyValue>) {
    match pos % 4 {
        0 => {
            let (method, route) = *pick(rng, ROUTES);
            let path = route
                .replace("{id}", &rng.u32(1..100_000).to_string())
                .replace("{userId}", &format!("u-{}", rng.u32(1..50_000)))
                .replace("{sessionId}", &format!("{:016x}", rng.u64(..)));
            let status = *pick(rng, &[200, 200, 200, 201, 204, 404, 500]);
            (
                format!("{method} {route}"),
                SpanKind::Server,
                vec![
                    s("http.request.method", method),
                    s("url.path", path),
                    s("http.route", route),
                    i("http.response.status_code", status),
                    i("server.port", 8080),
                    s("user_agent.original", *pick(rng, USER_AGENTS)),
                    s("client.address", format!("10.{}.{}.{}", rng.u8(..), rng.u8(..), rng.u8(1..))),
                    i("http.request.body.size", rng.i64(0..16_384)),
                    b("app.cache_hit", rng.bool()),
                    d("app.sampling_ratio", (rng.f64() * 1000.0).round() / 1000.0),
                ],
            )
        }
        1 => {
            let table = *pick(rng, TABLES);
            let op = *pick(rng, &["SELECT", "INSERT", "UPDATE"]);
            let stmt = match op {
                "SELECT" => format!("SELECT * FROM {table} WHERE id = $1 LIMIT 50"),
                "INSERT" => {
                    format!("INSERT INTO {table} (id, data, created_at) VALUES ($1, $2, now())")
                }
                _ => format!("UPDATE {table} SET data = $2, updated_at = now() WHERE id = $1"),
            };
            (
                format!("{op} {table}"),
                SpanKind::Client,
                vec![
                    s("db.system", "postgresql"),
                    s("db.namespace", format!("{service}_db")),
                    s("db.query.text", stmt),
                    s("db.operation.name", op),
                    s("server.address", format!("{service}-db.internal")),
                    i("server.port", 5432),
                    i("db.response.returned_rows", rng.i64(0..50)),
                    i("db.client.connection.pool.size", 16),
                    b("db.prepared", rng.bool()),
                    d("db.query.cost", rng.f64() * 250.0),
                ],
            )
        }
        2 => {
            let (svc, method) = *pick(rng, RPCS);
            (
                format!("{svc}/{method}"),
                SpanKind::Client,
                vec![
                    s("rpc.system", "grpc"),
                    s("rpc.service", svc),
                    s("rpc.method", method),
                    i("rpc.grpc.status_code", *pick(rng, &[0, 0, 0, 0, 14])),
                    s("server.address", format!("{}.svc.cluster.local", svc.to_lowercase())),
                    i("server.port", 50051),
                    i("app.retry_count", rng.i64(0..3)),
                    s("network.peer.address", format!("10.42.{}.{}", rng.u8(..), rng.u8(1..))),
                    b("rpc.idempotent", rng.bool()),
                    d("rpc.timeout_s", *pick(rng, &[0.5, 1.0, 2.5, 5.0])),
                ],
            )
        }
        _ => {
            let topic = *pick(rng, &["orders.created", "payments.settled", "cart.updated"]);
            (
                format!("publish {topic}"),
                SpanKind::Producer,
                vec![
                    s("messaging.system", "kafka"),
                    s("messaging.destination.name", topic),
                    s("messaging.operation.type", "publish"),
                    s("messaging.message.id", format!("{:032x}", rng.u128(..))),
                    i("messaging.batch.message_count", rng.i64(1..20)),
                    i("messaging.message.body.size", rng.i64(128..4096)),
                    s("server.address", "kafka-0.kafka.svc.cluster.local"),
                    i("server.port", 9092),
                    b("messaging.kafka.message.tombstone", false),
                    d("app.queue_lag_s", rng.f64() * 3.0),
                ],
            )
        }
    }
}

pub fn build_request(rng: &mut fastrand::Rng, idx: usize, now_ns: u64) -> ExportTraceServiceRequest {
    let service = SERVICES[idx % SERVICES.len()];
    let resource = Resource {
        attributes: vec![
            s("service.name", service),
            s("service.version", format!("1.{}.{}", idx % 5, idx % 3)),
            s("service.namespace", "shop"),
            s("deployment.environment.name", "production"),
            s("host.name", format!("{service}-{:08x}", rng.u32(..))),
            s("k8s.pod.name", format!("{service}-7d9f{:x}-{:05x}", idx, rng.u32(..0xfffff))),
            s("telemetry.sdk.language", "rust"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.version", "0.30.0"),
        ],
        ..Default::default()
    };
    let mut spans = Vec::with_capacity(SPANS_PER_REQUEST);
    for t in 0..TRACES_PER_REQUEST {
        let trace_start = now_ns - 60_000_000_000 + rng.u64(0..50_000_000_000);
        for j in 0..SPANS_PER_TRACE {
            let k = t * SPANS_PER_TRACE + j;
            let (name, kind, attributes) = span_body(rng, j, service);
            let start = trace_start + j as u64 * rng.u64(100_000..2_000_000);
            let dur = rng.u64(50_000..80_000_000);
            let error = rng.u8(..100) < 3;
            spans.push(Span {
                trace_id: trace_marker(t),
                span_id: span_marker(k),
                parent_span_id: if j == 0 { Vec::new() } else { span_marker(t * SPANS_PER_TRACE) },
                flags: 0x101,
                name,
                kind: kind as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + dur,
                attributes,
                status: Some(Status {
                    message: if error { "upstream returned an error".into() } else { String::new() },
                    code: if error { StatusCode::Error as i32 } else { StatusCode::Unset as i32 },
                }),
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "opentelemetry-instrumentation-shop".into(),
                    version: "0.52.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
        }],
    }
}
