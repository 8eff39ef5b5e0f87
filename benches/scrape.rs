//! How long a Prometheus scrape of the `prometheus` exporter takes with 100k
//! series held: the real exporter is built, filled through its consumer, and
//! scraped over HTTP on 127.0.0.1 (text format and OpenMetrics), as
//! Prometheus would. Two shapes of about 100k Prometheus series: 100k counters,
//! and 5k span-metrics-like histograms (16 bounds + `+Inf` + `_sum` +
//! `_count` = 19 series each, 95k in all, with an exemplar per point).
//!
//! Run with `make bench` (scripts/bench.sh) or `cargo bench --bench scrape`.
//! A timing, not a test: it prints the median of `BENCH_SCRAPES` (7) scrapes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use otelstack::component::{parse_section, BuildContext, ComponentId, ExporterConfig};
use otelstack::exporters::prometheus::PrometheusConfig;
use otelstack::otlp::data::Decoded;
use otelstack::signal::{Batch, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue { key: k.into(), value: Some(AnyValue { value: Some(V::StringValue(v.into())) }), ..Default::default() }
}

fn resource(metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource { attributes: vec![kv("service.name", "bench")], ..Default::default() }),
        scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
        schema_url: String::new(),
    }
}

/// 100 counters x 1000 label sets.
fn counters() -> Vec<ResourceMetrics> {
    let now = 1_700_000_000_000_000_000;
    (0..100)
        .map(|m| {
            let points = (0..1000)
                .map(|i| NumberDataPoint {
                    attributes: vec![
                        kv("http.route", &format!("/api/v1/items/{i}")),
                        kv("http.method", if i % 2 == 0 { "GET" } else { "POST" }),
                        kv("http.status_code", "200"),
                    ],
                    time_unix_nano: now,
                    value: Some(number_data_point::Value::AsDouble(i as f64 * 3.5)),
                    ..Default::default()
                })
                .collect();
            resource(vec![Metric {
                name: format!("bench.requests.{m}"),
                unit: "{request}".into(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                })),
                ..Default::default()
            }])
        })
        .collect()
}

/// 5 histograms x 1000 label sets, shaped like spanmetrics output.
fn histograms() -> Vec<ResourceMetrics> {
    let bounds =
        vec![2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0, 1e4, 1.5e4];
    (0..5)
        .map(|m| {
            let points = (0..1000u64)
                .map(|i| HistogramDataPoint {
                    attributes: vec![
                        kv("service.name", &format!("svc-{}", i % 20)),
                        kv("span.name", &format!("GET /api/{i}")),
                        kv("span.kind", "SPAN_KIND_SERVER"),
                        kv("status.code", "STATUS_CODE_UNSET"),
                    ],
                    time_unix_nano: 1_700_000_000_000_000_000,
                    count: 17 * (i + 1),
                    sum: Some(123.0 * i as f64),
                    bucket_counts: vec![i + 1; 17],
                    explicit_bounds: bounds.clone(),
                    exemplars: vec![Exemplar {
                        trace_id: vec![7; 16],
                        span_id: vec![9; 8],
                        time_unix_nano: 1_700_000_000_000_000_000,
                        value: Some(exemplar::Value::AsDouble(42.0)),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect();
            resource(vec![Metric {
                name: format!("bench.duration.{m}"),
                unit: "ms".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: points,
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                })),
                ..Default::default()
            }])
        })
        .collect()
}

async fn scrape(port: u16, accept: &str) -> (Duration, Vec<u8>) {
    let t = Instant::now();
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let req = format!("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut body = Vec::new();
    s.read_to_end(&mut body).await.expect("read");
    (t.elapsed(), body)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn run(shape: &str, data: Vec<ResourceMetrics>, scrapes: usize) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg: PrometheusConfig = parse_section(serde_json::json!({
        "endpoint": format!("127.0.0.1:{port}"), "enable_open_metrics": true, "metric_expiration": "1h"
    }))
    .expect("config");
    let ctx = BuildContext::new(ComponentId::parse("prometheus").unwrap(), Arc::new(Default::default()));
    let built = cfg.build(ctx, Signal::Metrics).expect("exporter");
    let t = Instant::now();
    built.consumer.consume(Batch::from_decoded(Decoded::Metrics(data))).await.expect("ingest");
    let ingest = t.elapsed();
    for (format, accept) in [("text", "text/plain"), ("openmetrics", "application/openmetrics-text;version=1.0.0")] {
        let (_, body) = scrape(port, accept).await; // warm-up, and the size
        let series = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#' && !l.starts_with(b"HTTP") && l.contains(&b'{'))
            .count();
        let mut times = Vec::new();
        for _ in 0..scrapes {
            times.push(scrape(port, accept).await.0);
        }
        println!(
            "| {shape} | {format} | {series} | {:.1} MiB | {:.1} ms | {:.1} ms | {:.1} ms |",
            body.len() as f64 / (1 << 20) as f64,
            median(times.clone()).as_secs_f64() * 1e3,
            times.iter().max().unwrap().as_secs_f64() * 1e3,
            ingest.as_secs_f64() * 1e3,
        );
    }
    built.running.shutdown(tokio::time::Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::main]
async fn main() {
    let scrapes = std::env::var("BENCH_SCRAPES").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    println!("| shape | format | series lines | body | median scrape | slowest scrape | ingest (one batch) |");
    println!("|---|---|---|---|---|---|---|");
    run("100k counters", counters(), scrapes).await;
    run("5k histograms (95k series)", histograms(), scrapes).await;
}
