//! What the `spanmetrics` connector costs per span: `Aggregator::consume` on
//! encoded trace requests (100 spans each, 10 attributes, 2 events, as an
//! instrumented HTTP service sends them), next to a full decode of the same
//! bytes into opentelemetry-proto's types for reference. Also the failure
//! exporters' (`mysql`, `alert`) in-place check of a batch with no failed
//! span, which is what lets them skip that decode for most batches.
//!
//! Run with `make bench` (scripts/bench.sh) or `cargo bench --bench spanmetrics`.
//! A timing, not a test.

use std::time::Instant;

use bytes::Bytes;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use otelstack::component::parse_section;
use otelstack::connectors::spanmetrics::aggregate::{Aggregator, Settings};
use otelstack::connectors::spanmetrics::SpanMetricsConfig;
use otelstack::exporters::failure::scan::may_hold_failures;
use otelstack::exporters::failure::Severity;
use otelstack::signal::{Batch, Signal};
use prost::Message;

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(V::StringValue(v.into())) }), ..Default::default() }
}

fn request(seed: u64, with_errors: bool) -> Vec<u8> {
    let spans = (0..100u64)
        .map(|i| {
            let n = seed * 100 + i;
            Span {
                trace_id: (n as u128 + 1).to_be_bytes().to_vec(),
                span_id: (n + 1).to_be_bytes().to_vec(),
                name: format!("GET /api/items/{}", n % 50),
                kind: 2,
                start_time_unix_nano: 1_700_000_000_000_000_000,
                end_time_unix_nano: 1_700_000_000_000_000_000 + (n % 997) * 1_000_000,
                attributes: (0..10).map(|a| kv(&format!("attr.{a}"), &format!("value-{}", (n + a) % 7))).collect(),
                events: (0..2)
                    .map(|e| span::Event {
                        name: format!("event-{e}"),
                        attributes: vec![kv("k", "v")],
                        ..Default::default()
                    })
                    .collect(),
                status: (with_errors && n.is_multiple_of(10)).then(|| Status { code: 2, ..Default::default() }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &format!("svc-{}", seed % 5)), kv("host.name", "node-1")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn main() {
    let requests: Vec<Vec<u8>> = (0..200).map(|seed| request(seed, true)).collect();
    let spans = (requests.len() * 100 * 20) as f64;
    for (label, cfg) in [
        ("defaults", serde_json::json!({})),
        (
            "exemplars + 2 dimensions",
            serde_json::json!({
                "exemplars": {"enabled": true}, "dimensions": [{"name": "attr.3"}, {"name": "host.name"}]
            }),
        ),
    ] {
        let cfg: SpanMetricsConfig = parse_section(cfg).expect("config");
        let mut agg = Aggregator::new(Settings::new(&cfg), 0);
        let t = Instant::now();
        for _ in 0..20 {
            for r in &requests {
                agg.consume(r, Instant::now(), 0).expect("valid request");
            }
        }
        let took = t.elapsed().as_secs_f64();
        println!(
            "spanmetrics consume ({label}): {:.0} ns/span, {:.2} M spans/s, {} series",
            took * 1e9 / spans,
            spans / took / 1e6,
            agg.series_count()
        );
    }
    let t = Instant::now();
    for _ in 0..20 {
        for r in &requests {
            std::hint::black_box(ExportTraceServiceRequest::decode(r.as_slice()).expect("valid"));
        }
    }
    println!(
        "reference, full decode into opentelemetry-proto types: {:.0} ns/span",
        t.elapsed().as_secs_f64() * 1e9 / spans
    );
    let clean: Vec<Batch> = (0..200)
        .map(|seed| Batch::from_encoded(Signal::Traces, Bytes::from(request(seed, false))).expect("valid"))
        .collect();
    let t = Instant::now();
    for _ in 0..20 {
        for b in &clean {
            assert!(!may_hold_failures(b, false, Severity::default()));
        }
    }
    println!(
        "failure exporters, in-place check of a batch with no failed span: {:.0} ns/span",
        t.elapsed().as_secs_f64() * 1e9 / spans
    );
}
