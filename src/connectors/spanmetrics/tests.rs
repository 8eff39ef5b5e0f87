use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::aggregate::{Aggregator, Settings, OVERFLOW_ATTRIBUTE};
use super::config::{SpanMetricsConfig, DEFAULT_BUCKETS_MS};
use super::histogram::Exponential;
use crate::component::{parse_section, BuildContext, ComponentId, ConnectorConfig, Validate};
use crate::otlp::data::Decoded;
use crate::signal::Signal;
use crate::testkit::{kv, s, CollectSink};

const T0: u64 = 1_700_000_000_000_000_000;

fn span(name: &str, kind: i32, ms: f64, error: bool, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![0xab; 16],
        span_id: vec![name.len() as u8; 8],
        name: name.into(),
        kind,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + (ms * 1e6) as u64,
        attributes: attrs,
        status: error.then(|| Status { code: 2, ..Default::default() }),
        ..Default::default()
    }
}

fn request(resources: Vec<(Vec<KeyValue>, Vec<Span>)>) -> Vec<u8> {
    let rs: Vec<ResourceSpans> = resources
        .into_iter()
        .map(|(attrs, spans)| ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: attrs,
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        })
        .collect();
    Decoded::Traces(rs).encode_request()
}

fn config(yaml_json: serde_json::Value) -> SpanMetricsConfig {
    let cfg: SpanMetricsConfig = parse_section(yaml_json).expect("parses");
    cfg.validate().expect("valid");
    cfg
}

fn aggregator(cfg: &SpanMetricsConfig) -> Aggregator {
    Aggregator::new(Settings::new(cfg), T0)
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref()).map(crate::otlp::pdata::as_string)
}

/// (attributes as sorted "k=v" strings, calls) for every calls point.
fn calls(out: &[ResourceMetrics]) -> Vec<(Vec<String>, i64)> {
    let mut rows = Vec::new();
    for rm in out {
        for m in rm.scope_metrics.iter().flat_map(|s| &s.metrics) {
            if let Some(metric::Data::Sum(sum)) = &m.data {
                assert!(sum.is_monotonic);
                for p in &sum.data_points {
                    let mut labels: Vec<String> = p
                        .attributes
                        .iter()
                        .map(|a| format!("{}={}", a.key, attr(&p.attributes, &a.key).unwrap()))
                        .collect();
                    labels.sort();
                    let Some(number_data_point::Value::AsInt(v)) = p.value else { panic!("int calls") };
                    rows.push((labels, v));
                }
            }
        }
    }
    rows.sort();
    rows
}

#[test]
fn defaults_match_otelcol_contrib() {
    let cfg = config(serde_json::Value::Null);
    assert_eq!(cfg.namespace, "traces.span.metrics");
    assert_eq!(cfg.metrics_flush_interval.0, Duration::from_secs(60));
    assert_eq!(cfg.aggregation_temporality, "AGGREGATION_TEMPORALITY_CUMULATIVE");
    assert_eq!(cfg.bounds(), DEFAULT_BUCKETS_MS.to_vec());
    assert_eq!(cfg.max_exemplars(), 5);
    assert!(!cfg.exemplars.enabled && !cfg.add_resource_attributes && cfg.aggregation_cardinality_limit == 0);
    let seconds =
        config(serde_json::json!({"histogram": {"unit": "s", "explicit": {"buckets": ["100us", "1ms", "2s"]}}}));
    assert_eq!(seconds.bounds(), vec![0.0001, 0.001, 2.0]);
}

#[test]
fn counts_calls_and_durations_per_service_name_kind_and_status() {
    let cfg = config(serde_json::Value::Null);
    let mut agg = aggregator(&cfg);
    let now = Instant::now();
    let req = request(vec![
        (
            vec![kv("service.name", s("shop")), kv("host.name", s("h1"))],
            vec![
                span("GET /cart", 2, 1.0, false, vec![]),
                span("GET /cart", 2, 5.0, false, vec![]),
                span("GET /cart", 2, 120.0, false, vec![]),
                span("GET /cart", 2, 3.0, true, vec![]),
                span("SELECT", 3, 0.5, false, vec![]),
            ],
        ),
        (vec![kv("service.name", s("pay"))], vec![span("charge", 1, 20000.0, false, vec![])]),
        (vec![kv("host.name", s("no-service"))], vec![span("ignored", 1, 1.0, false, vec![])]),
    ]);
    assert_eq!(agg.consume(&req, now, T0).unwrap(), 6, "a resource without service.name is not counted");
    let out = agg.flush(now, T0 + 1);
    let row = |svc: &str, name: &str, kind: &str, status: &str| {
        let mut v = vec![
            format!("service.name={svc}"),
            format!("span.kind={kind}"),
            format!("span.name={name}"),
            format!("status.code={status}"),
        ];
        v.sort();
        v
    };
    assert_eq!(calls(&out), {
        let mut want = vec![
            (row("pay", "charge", "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET"), 1),
            (row("shop", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_ERROR"), 1),
            (row("shop", "GET /cart", "SPAN_KIND_SERVER", "STATUS_CODE_UNSET"), 3),
            (row("shop", "SELECT", "SPAN_KIND_CLIENT", "STATUS_CODE_UNSET"), 1),
        ];
        want.sort();
        want
    });
    let shop = out
        .iter()
        .find(|r| attr(&r.resource.as_ref().unwrap().attributes, "service.name").as_deref() == Some("shop"))
        .unwrap();
    assert_eq!(
        shop.resource.as_ref().unwrap().attributes.len(),
        1,
        "only service.name without add_resource_attributes"
    );
    let metrics = &shop.scope_metrics[0].metrics;
    assert_eq!(metrics[0].name, "traces.span.metrics.calls");
    assert_eq!((metrics[1].name.as_str(), metrics[1].unit.as_str()), ("traces.span.metrics.duration", "ms"));
    let Some(metric::Data::Histogram(h)) = &metrics[1].data else { panic!("explicit histogram") };
    let ok = h
        .data_points
        .iter()
        .find(|p| {
            attr(&p.attributes, "status.code").as_deref() == Some("STATUS_CODE_UNSET")
                && attr(&p.attributes, "span.name").as_deref() == Some("GET /cart")
        })
        .unwrap();
    assert_eq!(ok.count, 3);
    assert_eq!(ok.sum, Some(126.0));
    assert_eq!(ok.explicit_bounds, DEFAULT_BUCKETS_MS.to_vec());
    // 1ms in (0,2], 5ms in (4,6], 120ms in (100,200]
    let mut want = vec![0u64; 17];
    want[0] = 1;
    want[2] = 1;
    want[7] = 1;
    assert_eq!(ok.bucket_counts, want);
    assert_eq!((ok.min, ok.max), (Some(1.0), Some(120.0)));
}

#[test]
fn dimensions_come_from_span_then_resource_then_default_and_exclusions_apply() {
    let cfg = config(serde_json::json!({
        "dimensions": [{"name": "http.method", "default": "GET"}, {"name": "region"}, {"name": "absent"}],
        "exclude_dimensions": ["status.code"],
    }));
    let mut agg = aggregator(&cfg);
    let req = request(vec![(
        vec![kv("service.name", s("shop")), kv("region", s("eu"))],
        vec![
            span("a", 2, 1.0, true, vec![kv("http.method", s("POST"))]),
            span("a", 2, 1.0, false, vec![]),
            span("a", 2, 1.0, false, vec![kv("region", s("us"))]),
        ],
    )]);
    agg.consume(&req, Instant::now(), T0).unwrap();
    let rows = calls(&agg.flush(Instant::now(), T0));
    let base = |method: &str, region: &str| {
        let mut v = vec![
            format!("http.method={method}"),
            format!("region={region}"),
            "service.name=shop".into(),
            "span.kind=SPAN_KIND_SERVER".into(),
            "span.name=a".into(),
        ];
        v.sort();
        v
    };
    let mut want = vec![(base("GET", "eu"), 1), (base("GET", "us"), 1), (base("POST", "eu"), 1)];
    want.sort();
    assert_eq!(rows, want, "status.code is excluded, so the error span shares no series with a status");
}

#[test]
fn exemplars_carry_trace_and_span_ids_up_to_the_limit_and_clear_after_a_flush() {
    let cfg = config(serde_json::json!({"exemplars": {"enabled": true, "max_per_data_point": 2}}));
    let mut agg = aggregator(&cfg);
    let spans = (0..4).map(|_| span("op", 2, 7.0, false, vec![])).collect();
    agg.consume(&request(vec![(vec![kv("service.name", s("svc"))], spans)]), Instant::now(), T0).unwrap();
    let out = agg.flush(Instant::now(), T0);
    let metrics = &out[0].scope_metrics[0].metrics;
    let Some(metric::Data::Sum(sum)) = &metrics[0].data else { panic!() };
    let Some(metric::Data::Histogram(h)) = &metrics[1].data else { panic!() };
    for exemplars in [&sum.data_points[0].exemplars, &h.data_points[0].exemplars] {
        assert_eq!(exemplars.len(), 2);
        assert_eq!(exemplars[0].trace_id, vec![0xab; 16]);
        assert_eq!(exemplars[0].span_id, vec![2; 8]);
        assert_eq!(exemplars[0].time_unix_nano, T0 + 7_000_000);
    }
    let again = agg.flush(Instant::now(), T0 + 10);
    let Some(metric::Data::Sum(sum)) = &again[0].scope_metrics[0].metrics[0].data else { panic!() };
    assert!(sum.data_points[0].exemplars.is_empty(), "exemplars belong to one flush");
    assert_eq!(sum.data_points[0].value, Some(number_data_point::Value::AsInt(4)), "cumulative keeps counting");
    assert_eq!(sum.data_points[0].start_time_unix_nano, T0, "cumulative start time stays");
}

#[test]
fn delta_temporality_resets_each_flush_and_cumulative_series_expire() {
    let delta = config(serde_json::json!({"aggregation_temporality": "AGGREGATION_TEMPORALITY_DELTA"}));
    let mut agg = aggregator(&delta);
    let req = request(vec![(vec![kv("service.name", s("svc"))], vec![span("op", 2, 1.0, false, vec![])])]);
    let now = Instant::now();
    agg.consume(&req, now, T0).unwrap();
    let first = agg.flush(now, T0 + 100);
    let Some(metric::Data::Sum(sum)) = &first[0].scope_metrics[0].metrics[0].data else { panic!() };
    assert_eq!(sum.aggregation_temporality, 1, "delta");
    assert!(agg.flush(now, T0 + 200).is_empty(), "nothing new since the last flush");
    agg.consume(&req, now, T0 + 250).unwrap();
    let third = agg.flush(now, T0 + 300);
    let Some(metric::Data::Sum(sum)) = &third[0].scope_metrics[0].metrics[0].data else { panic!() };
    assert_eq!(sum.data_points[0].value, Some(number_data_point::Value::AsInt(1)));
    assert_eq!(sum.data_points[0].start_time_unix_nano, T0 + 200, "starts at the previous flush");

    let expiring = config(serde_json::json!({"metrics_expiration": "1s"}));
    let mut agg = aggregator(&expiring);
    agg.consume(&req, now, T0).unwrap();
    assert_eq!(agg.flush(now + Duration::from_millis(500), T0).len(), 1);
    assert!(agg.flush(now + Duration::from_secs(2), T0).is_empty(), "idle for longer than metrics_expiration");
}

#[test]
fn cardinality_limit_folds_new_series_into_one_overflow_series() {
    let cfg = config(serde_json::json!({"aggregation_cardinality_limit": 2}));
    let mut agg = aggregator(&cfg);
    let spans = ["a", "b", "c", "d", "e", "a"].iter().map(|n| span(n, 2, 1.0, false, vec![])).collect();
    agg.consume(&request(vec![(vec![kv("service.name", s("svc"))], spans)]), Instant::now(), T0).unwrap();
    assert_eq!(agg.series_count(), 3, "two series and the overflow one");
    let rows = calls(&agg.flush(Instant::now(), T0));
    let overflow: Vec<_> = rows.iter().filter(|(l, _)| l.iter().any(|x| x.starts_with(OVERFLOW_ATTRIBUTE))).collect();
    assert_eq!(overflow.len(), 1);
    assert_eq!(overflow[0].0, vec![format!("{OVERFLOW_ATTRIBUTE}=true"), "service.name=svc".to_string()]);
    assert_eq!(overflow[0].1, 3, "c, d and e");
    assert_eq!(rows.iter().map(|(_, v)| v).sum::<i64>(), 6, "no call is lost");
}

#[test]
fn exponential_histogram_counts_every_value_and_downscales_to_max_size() {
    let mut h = Exponential::new(4);
    for v in [1.0, 2.0, 3.0, 100.0, 1000.0, 0.0] {
        h.observe(v);
    }
    assert_eq!(h.count, 6);
    assert_eq!(h.zero_count, 1);
    assert!(h.counts.len() <= 4, "{h:?}");
    assert_eq!(h.counts.iter().sum::<u64>(), 5);
    let base = 2f64.powf(2f64.powi(-h.scale));
    for v in [1.0f64, 2.0, 3.0, 100.0, 1000.0] {
        let i = Exponential::index(v, h.scale);
        assert!(
            base.powi(i as i32) < v * (1.0 + 1e-9) && v <= base.powi(i as i32 + 1) * (1.0 + 1e-9),
            "{v} in bucket {i}"
        );
        assert!(i >= h.offset as i64 && i < h.offset as i64 + h.counts.len() as i64);
    }
    let cfg = config(serde_json::json!({"histogram": {"exponential": {"max_size": 10}}}));
    let mut agg = aggregator(&cfg);
    let req = request(vec![(vec![kv("service.name", s("svc"))], vec![span("op", 2, 3.0, false, vec![])])]);
    agg.consume(&req, Instant::now(), T0).unwrap();
    let out = agg.flush(Instant::now(), T0);
    assert!(matches!(out[0].scope_metrics[0].metrics[1].data, Some(metric::Data::ExponentialHistogram(_))));
    let disabled = config(serde_json::json!({"histogram": {"disable": true}}));
    let mut agg = aggregator(&disabled);
    agg.consume(&req, Instant::now(), T0).unwrap();
    assert_eq!(agg.flush(Instant::now(), T0)[0].scope_metrics[0].metrics.len(), 1, "calls only");
}

#[test]
fn add_resource_attributes_keeps_them_and_key_attributes_group_resources() {
    let cfg = config(
        serde_json::json!({"add_resource_attributes": true, "resource_metrics_key_attributes": ["service.name"]}),
    );
    let mut agg = aggregator(&cfg);
    let one = |pod: &str| {
        (vec![kv("service.name", s("svc")), kv("k8s.pod.name", s(pod))], vec![span("op", 2, 1.0, false, vec![])])
    };
    agg.consume(&request(vec![one("p1"), one("p2")]), Instant::now(), T0).unwrap();
    let out = agg.flush(Instant::now(), T0);
    assert_eq!(out.len(), 1, "grouped by service.name alone");
    assert_eq!(attr(&out[0].resource.as_ref().unwrap().attributes, "k8s.pod.name").as_deref(), Some("p1"));
    assert_eq!(calls(&out)[0].1, 2);
}

#[test]
fn config_errors_name_the_key() {
    let bad = |v: serde_json::Value| parse_section::<SpanMetricsConfig>(v).expect("parses").validate().unwrap_err();
    assert_eq!(bad(serde_json::json!({"dimensions": [{"name": "span.kind"}]})).path, "dimensions.0.name");
    assert_eq!(bad(serde_json::json!({"histogram": {"explicit": {}, "exponential": {}}})).path, "histogram");
    assert_eq!(bad(serde_json::json!({"aggregation_temporality": "DELTA"})).path, "aggregation_temporality");
    assert_eq!(
        bad(serde_json::json!({"histogram": {"explicit": {"buckets": ["2ms", "1ms"]}}})).path,
        "histogram.explicit.buckets"
    );
    assert_eq!(bad(serde_json::json!({"aggregation_cardinality_limit": -1})).path, "aggregation_cardinality_limit");
    assert_eq!(bad(serde_json::json!({"dimensions_cache_size": 0})).path, "dimensions_cache_size");
    assert!(parse_section::<SpanMetricsConfig>(serde_json::json!({"histogram": {"unit": "us"}})).is_err());
    assert!(parse_section::<SpanMetricsConfig>(serde_json::json!({"namespce": "x"})).is_err());
}

#[tokio::test]
async fn the_built_connector_flushes_on_its_interval_and_at_shutdown() {
    let cfg = config(serde_json::json!({"metrics_flush_interval": "50ms"}));
    let sink = Arc::new(CollectSink::default());
    let ctx = BuildContext::new(ComponentId::parse("spanmetrics").unwrap(), Default::default());
    assert!(cfg.build(ctx.clone(), Signal::Traces, Signal::Logs, sink.clone()).is_err());
    let built = cfg.build(ctx, Signal::Traces, Signal::Metrics, sink.clone()).unwrap();
    let req = request(vec![(vec![kv("service.name", s("svc"))], vec![span("op", 2, 1.0, false, vec![])])]);
    let batch = crate::signal::Batch::from_encoded(Signal::Traces, req.into()).unwrap();
    built.consumer.consume(batch).await.unwrap();
    let empty = crate::signal::Batch::merge(Signal::Traces, vec![]);
    built.consumer.consume(empty).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.items() >= 2, "calls and duration points arrived on the timer");
    built.running.shutdown(tokio::time::Instant::now() + Duration::from_secs(1)).await;
    let stopped = sink.batches.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.batches.lock().unwrap().len(), stopped, "no flush after shutdown");

    // with an hour-long interval, the only flush is the one at shutdown
    let hourly = config(serde_json::json!({"metrics_flush_interval": "1h"}));
    let sink = Arc::new(CollectSink::default());
    let ctx = BuildContext::new(ComponentId::parse("spanmetrics").unwrap(), Default::default());
    let built = hourly.build(ctx, Signal::Traces, Signal::Metrics, sink.clone()).unwrap();
    let req = request(vec![(vec![kv("service.name", s("svc"))], vec![span("op", 2, 1.0, false, vec![])])]);
    built.consumer.consume(crate::signal::Batch::from_encoded(Signal::Traces, req.into()).unwrap()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.batches.lock().unwrap().len(), 0);
    built.running.shutdown(tokio::time::Instant::now() + Duration::from_secs(1)).await;
    assert_eq!(sink.batches.lock().unwrap().len(), 1, "one last flush at shutdown");
    let last = sink.batches.lock().unwrap().last().unwrap().decoded().unwrap();
    let Decoded::Metrics(rm) = last else { panic!() };
    assert_eq!(calls(&rm)[0].1, 1);
}

#[test]
fn the_walker_skips_events_links_and_scopes_and_refuses_broken_bytes() {
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
    let cfg = config(serde_json::json!({"dimensions": [{"name": "n"}]}));
    let mut agg = aggregator(&cfg);
    let mut sp =
        span("op", 3, 2.0, true, vec![kv("n", opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(7))]);
    sp.events = vec![Event { name: "e".into(), attributes: vec![kv("n", s("event"))], ..Default::default() }];
    sp.links = vec![Link { trace_id: vec![1; 16], attributes: vec![kv("n", s("link"))], ..Default::default() }];
    sp.trace_state = "k=v".into();
    let rs = ResourceSpans {
        resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
            attributes: vec![kv("service.name", s("svc"))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "lib".into(),
                attributes: vec![kv("n", s("scope"))],
                ..Default::default()
            }),
            spans: vec![sp],
            schema_url: "https://example/schema".into(),
        }],
        schema_url: "https://example/schema".into(),
    };
    let req = Decoded::Traces(vec![rs]).encode_request();
    assert_eq!(agg.consume(&req, Instant::now(), T0).unwrap(), 1);
    let rows = calls(&agg.flush(Instant::now(), T0));
    assert_eq!(rows.len(), 1);
    assert!(rows[0].0.contains(&"n=7".to_string()), "the span's own attribute, not an event's or a link's: {rows:?}");
    assert!(rows[0].0.contains(&"status.code=STATUS_CODE_ERROR".to_string()));
    assert!(rows[0].0.contains(&"span.kind=SPAN_KIND_CLIENT".to_string()));
    assert!(agg.consume(&req[..req.len() - 3], Instant::now(), T0).is_err(), "truncated");
    assert!(agg.consume(&[0x0a, 0xff, 0xff], Instant::now(), T0).is_err(), "length past the end");
}
