use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::render::text;
use super::store::{Shape, Store};
use crate::testkit::{kv, s};

fn point(v: f64, attrs: Vec<opentelemetry_proto::tonic::common::v1::KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..Default::default()
    }
}

fn resource_metrics(metrics: Vec<Metric>) -> ResourceMetrics {
    ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", s("checkout")),
                kv("service.namespace", s("shop")),
                kv("service.instance.id", s("pod-1")),
                kv("host.name", s("node-a")),
            ],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics { metrics, ..Default::default() }],
        schema_url: String::new(),
    }
}

fn counter(delta: bool, v: f64) -> Metric {
    Metric {
        name: "http.server.requests".into(),
        unit: "{request}".into(),
        description: "Requests served".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![point(v, vec![kv("http.route", s("/cart")), kv("http.method", s("GET"))])],
            aggregation_temporality: if delta {
                AggregationTemporality::Delta
            } else {
                AggregationTemporality::Cumulative
            } as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}

fn shape() -> Shape {
    Shape::default()
}

#[test]
fn renders_counters_gauges_histograms_summaries_and_target_info() {
    let mut store = Store::default();
    let gauge = Metric {
        name: "process.memory.usage".into(),
        unit: "By".into(),
        data: Some(metric::Data::Gauge(Gauge { data_points: vec![point(1024.0, vec![])] })),
        ..Default::default()
    };
    let hist = Metric {
        name: "http.server.request.duration".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 6,
                sum: Some(2.5),
                bucket_counts: vec![1, 2, 3],
                explicit_bounds: vec![0.1, 1.0],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    let summary = Metric {
        name: "rpc.latency".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Summary(Summary {
            data_points: vec![SummaryDataPoint {
                count: 4,
                sum: 10.0,
                quantile_values: vec![summary_data_point::ValueAtQuantile { quantile: 0.5, value: 2.0 }],
                ..Default::default()
            }],
        })),
        ..Default::default()
    };
    store.ingest(&[resource_metrics(vec![counter(false, 7.0), gauge, hist, summary])], &shape(), Instant::now());
    let out = text(&store, false);
    let job = r#"instance="pod-1",job="shop/checkout""#;
    for line in [
        "# TYPE target_info gauge".to_string(),
        format!(r#"target_info{{host_name="node-a",{job}}} 1"#),
        "# TYPE http_server_requests_total counter".to_string(),
        "# HELP http_server_requests_total Requests served".to_string(),
        format!(r#"http_server_requests_total{{http_method="GET",http_route="/cart",{job}}} 7"#),
        "# TYPE process_memory_usage_bytes gauge".to_string(),
        format!(r#"process_memory_usage_bytes{{{job}}} 1024"#),
        "# TYPE http_server_request_duration_seconds histogram".to_string(),
        format!(r#"http_server_request_duration_seconds_bucket{{{job},le="0.1"}} 1"#),
        format!(r#"http_server_request_duration_seconds_bucket{{{job},le="1"}} 3"#),
        format!(r#"http_server_request_duration_seconds_bucket{{{job},le="+Inf"}} 6"#),
        format!(r#"http_server_request_duration_seconds_sum{{{job}}} 2.5"#),
        format!(r#"http_server_request_duration_seconds_count{{{job}}} 6"#),
        "# TYPE rpc_latency_milliseconds summary".to_string(),
        format!(r#"rpc_latency_milliseconds{{{job},quantile="0.5"}} 2"#),
        format!(r#"rpc_latency_milliseconds_count{{{job}}} 4"#),
    ] {
        assert!(out.lines().any(|l| l == line), "missing line {line:?} in:\n{out}");
    }
}

#[test]
fn delta_counters_accumulate_and_series_expire() {
    let mut store = Store::default();
    let t0 = Instant::now();
    store.ingest(&[resource_metrics(vec![counter(true, 2.0)])], &shape(), t0);
    store.ingest(&[resource_metrics(vec![counter(true, 3.0)])], &shape(), t0);
    let out = text(&store, false);
    assert!(
        out.contains(
            r#"http_server_requests_total{http_method="GET",http_route="/cart",instance="pod-1",job="shop/checkout"} 5"#
        ),
        "{out}"
    );
    store.expire(t0 + Duration::from_secs(301), Duration::from_secs(300));
    assert_eq!(text(&store, false), "", "everything expired");
}

#[test]
fn colliding_labels_join_values_and_const_labels_and_namespace_apply() {
    let mut store = Store::default();
    let m = Metric {
        name: "queue.depth".into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: vec![point(
                3.0,
                vec![kv("a.b", s("x")), kv("a_b", s("y")), kv("n", V::IntValue(4).into_kv_value())],
            )],
        })),
        ..Default::default()
    };
    let shape = Shape {
        settings: crate::prometheus::Settings { namespace: "shop".into(), ..Default::default() },
        const_labels: [("env".to_string(), "prod".to_string())].into(),
    };
    store.ingest(&[resource_metrics(vec![m])], &shape, Instant::now());
    let out = text(&store, true);
    let line = out.lines().find(|l| l.starts_with("shop_queue_depth{")).expect(&out);
    assert_eq!(
        line,
        r#"shop_queue_depth{a_b="x;y",env="prod",instance="pod-1",job="shop/checkout",n="4"} 3 1700000000000"#
    );
}

trait IntoKv {
    fn into_kv_value(self) -> V;
}
impl IntoKv for V {
    fn into_kv_value(self) -> V {
        self
    }
}

#[test]
fn open_metrics_carries_exemplars_on_counters_and_buckets_and_ends_with_eof() {
    use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};
    let ex = |value: f64, span: u8, t: u64| Exemplar {
        trace_id: vec![0xab; 16],
        span_id: vec![span; 8],
        time_unix_nano: t,
        value: Some(exemplar::Value::AsDouble(value)),
        ..Default::default()
    };
    let mut calls = counter(false, 4.0);
    if let Some(metric::Data::Sum(s)) = &mut calls.data {
        s.data_points[0].exemplars = vec![ex(3.0, 1, 1_700_000_000_500_000_000), ex(9.0, 2, 1_700_000_001_250_000_000)];
    }
    let hist = Metric {
        name: "duration".into(),
        unit: "ms".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                count: 2,
                sum: Some(12.0),
                bucket_counts: vec![1, 0, 1],
                explicit_bounds: vec![5.0, 10.0],
                exemplars: vec![ex(2.0, 3, 1_700_000_000_000_000_000), ex(10.0, 4, 1_700_000_000_000_000_000)],
                ..Default::default()
            }],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        })),
        ..Default::default()
    };
    let mut store = Store::default();
    store.ingest(&[resource_metrics(vec![calls, hist.clone()])], &shape(), Instant::now());
    let om = super::render::render(&store, false, super::render::Format::OpenMetrics);
    let job = r#"instance="pod-1",job="shop/checkout""#;
    let trace = "abababababababababababababababab";
    for line in [
        "# TYPE http_server_requests counter".to_string(),
        format!(
            r#"http_server_requests_total{{http_method="GET",http_route="/cart",{job}}} 4 # {{trace_id="{trace}",span_id="0202020202020202"}} 9 1700000001.250000000"#
        ),
        "# TYPE duration_milliseconds histogram".to_string(),
        format!(
            r#"duration_milliseconds_bucket{{{job},le="5"}} 1 # {{trace_id="{trace}",span_id="0303030303030303"}} 2 1700000000.000000000"#
        ),
        format!(
            r#"duration_milliseconds_bucket{{{job},le="10"}} 1 # {{trace_id="{trace}",span_id="0404040404040404"}} 10 1700000000.000000000"#
        ),
        format!(r#"duration_milliseconds_bucket{{{job},le="+Inf"}} 2"#),
    ] {
        assert!(om.lines().any(|l| l == line), "missing line {line:?} in:\n{om}");
    }
    assert!(om.ends_with("\n# EOF\n"));
    let text = text(&store, false);
    assert!(!text.contains(" # {") && !text.contains("# EOF"), "no exemplars in the text format:\n{text}");
    assert!(text.contains("# TYPE http_server_requests_total counter"));

    // a later point without exemplars keeps the last ones
    let mut plain = hist;
    if let Some(metric::Data::Histogram(h)) = &mut plain.data {
        h.data_points[0].exemplars.clear();
    }
    store.ingest(&[resource_metrics(vec![plain])], &shape(), Instant::now());
    let om = super::render::render(&store, true, super::render::Format::OpenMetrics);
    assert!(om.contains(r#"le="5"} 1 0.000 # {trace_id="#), "timestamps in seconds, exemplar kept: {om}");
}

#[test]
fn open_metrics_is_served_only_when_enabled_and_accepted() {
    use super::render::Format;
    let mut h = axum::http::HeaderMap::new();
    h.insert("accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1".parse().unwrap());
    assert_eq!(super::negotiate(true, &h), Format::OpenMetrics);
    assert_eq!(super::negotiate(false, &h), Format::Text);
    h.insert("accept", "text/plain".parse().unwrap());
    assert_eq!(super::negotiate(true, &h), Format::Text);
    h.insert("accept", "application/openmetrics-text; q=0".parse().unwrap());
    assert_eq!(super::negotiate(true, &h), Format::Text);
}

/// Where the exposition follows otelcol now that both exporters share one
/// translation: `_ratio` only on gauges (an up-down counter with unit `1` has
/// none), bytes attributes in base64, arrays as JSON, and a `const_labels`
/// entry only where no attribute already set that label.
#[test]
fn shared_translation_rules_in_the_exposition() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue};
    let array = V::ArrayValue(ArrayValue {
        values: vec![AnyValue { value: Some(s("a")) }, AnyValue { value: Some(V::IntValue(2)) }],
    });
    let updown = Metric {
        name: "queue.fill".into(),
        unit: "1".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![point(
                0.5,
                vec![kv("blob", V::BytesValue(vec![96, 97, 98, 99])), kv("list", array), kv("env", s("from-point"))],
            )],
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: false,
        })),
        ..Default::default()
    };
    let shape = Shape { const_labels: [("env".to_string(), "prod".to_string())].into(), ..shape() };
    let mut store = Store::default();
    store.ingest(&[resource_metrics(vec![updown])], &shape, Instant::now());
    let out = text(&store, false);
    let line = out.lines().find(|l| l.starts_with("queue_fill{")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        line,
        r#"queue_fill{blob="YGFiYw==",env="from-point",instance="pod-1",job="shop/checkout",list="[\"a\",2]"} 0.5"#
    );
    assert!(out.contains("# TYPE queue_fill gauge"), "{out}");
}

#[tokio::test]
async fn metrics_path_moves_the_exposition() {
    use super::PrometheusConfig;
    use crate::component::{parse_section, BuildContext, ExporterConfig, Validate};
    use crate::signal::{Batch, Signal};
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = parse_section::<PrometheusConfig>(
        serde_json::json!({"endpoint": format!("127.0.0.1:{port}"), "metrics_path": "/othermetrics"}),
    )
    .unwrap();
    assert!(cfg.validate().is_ok());
    let ctx = BuildContext::new(crate::component::ComponentId::parse("prometheus").unwrap(), Default::default());
    let built = cfg.build(ctx, Signal::Metrics).unwrap();
    let batch = Batch::from_decoded(crate::otlp::data::Decoded::Metrics(vec![crate::testkit::metrics(
        "svc",
        vec![crate::testkit::gauge("queue.depth", 1)],
    )]));
    built.consumer.consume(batch).await.unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let get = |path: &str| reqwest::get(format!("http://127.0.0.1:{port}{path}"));
    let served = get("/othermetrics").await.unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.text().await.unwrap().contains("queue_depth{"));
    assert_eq!(get("/metrics").await.unwrap().status(), 404);
    let bad = parse_section::<PrometheusConfig>(serde_json::json!({"metrics_path": "metrics"})).unwrap();
    assert_eq!(bad.validate().unwrap_err().path, "metrics_path");
}
