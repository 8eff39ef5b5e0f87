//! The remote-write conversion and config, checked on the decoded `WriteRequest`.

use super::*;
use crate::testkit::{gauge, metrics};

#[test]
fn converts_with_sorted_labels_and_external_labels() {
    let shape = convert::Shape {
        external_labels: [("collector_label".to_string(), "10.0.0.1".to_string())].into(),
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
    let shape = convert::Shape::default();
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
    assert!(req.timeseries.iter().filter(|t| !t.labels.iter().any(|l| l.name == "le")).all(|t| t.exemplars.is_empty()));
}

#[test]
fn empty_external_label_is_a_config_error() {
    let cfg: RemoteWriteConfig = serde_json::from_value(serde_json::json!({
        "endpoint": "http://p:9090/api/v1/write", "external_labels": {"collector_label": ""}
    }))
    .unwrap();
    assert_eq!(cfg.validate().unwrap_err().path, "external_labels.collector_label");
}

fn exponential(temporality: i32) -> opentelemetry_proto::tonic::metrics::v1::Metric {
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    use opentelemetry_proto::tonic::metrics::v1::{
        exemplar, metric, ExponentialHistogram, ExponentialHistogramDataPoint, Metric,
    };
    let point = ExponentialHistogramDataPoint {
        time_unix_nano: 1_700_000_000_500_000_000,
        count: 6,
        sum: Some(10.1),
        scale: 9,
        zero_count: 1,
        positive: Some(Buckets { offset: 1, bucket_counts: vec![1, 1, 1] }),
        negative: Some(Buckets { offset: 2, bucket_counts: vec![1, 1, 1] }),
        exemplars: vec![opentelemetry_proto::tonic::metrics::v1::Exemplar {
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            time_unix_nano: 1_700_000_000_400_000_000,
            value: Some(exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }],
        ..Default::default()
    };
    Metric {
        name: "rpc.duration".into(),
        unit: "s".into(),
        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![point],
            aggregation_temporality: temporality,
        })),
        ..Default::default()
    }
}

#[test]
fn exponential_histograms_go_out_as_native_histograms_on_the_wire() {
    use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
    let req = convert::convert(
        &[metrics("svc", vec![exponential(AggregationTemporality::Cumulative as i32)])],
        &convert::Shape::default(),
    )
    .into_request(false);
    // through the encoder and back, as Prometheus reads it
    let req = proto::WriteRequest::decode(req.encode_to_vec().as_slice()).unwrap();
    assert_eq!(req.timeseries.len(), 1, "{req:?}");
    let ts = &req.timeseries[0];
    assert_eq!(
        ts.labels,
        vec![
            proto::Label { name: "__name__".into(), value: "rpc_duration_seconds".into() },
            proto::Label { name: "job".into(), value: "svc".into() },
        ]
    );
    assert!(ts.samples.is_empty());
    // upstream's "downsample if scale is more than 8" case
    let h = &ts.histograms[0];
    assert_eq!(
        (h.count_int, h.sum, h.schema, h.zero_count_int, h.timestamp),
        (Some(6), 10.1, 8, Some(1), 1_700_000_000_500)
    );
    assert_eq!(h.zero_threshold, crate::prometheus::native::DEFAULT_ZERO_THRESHOLD);
    let spans = |s: &[proto::BucketSpan]| s.iter().map(|s| (s.offset, s.length)).collect::<Vec<_>>();
    assert_eq!((spans(&h.positive_spans), h.positive_deltas.clone()), (vec![(1, 2)], vec![1, 1]));
    assert_eq!((spans(&h.negative_spans), h.negative_deltas.clone()), (vec![(2, 2)], vec![2, -1]));
    assert_eq!(ts.exemplars.len(), 1);
    assert_eq!((ts.exemplars[0].value, ts.exemplars[0].timestamp), (1.5, 1_700_000_000_400));
}

#[test]
fn delta_exponential_histograms_are_dropped_like_other_deltas() {
    use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
    let req = convert::convert(
        &[metrics("svc", vec![exponential(AggregationTemporality::Delta as i32)])],
        &convert::Shape::default(),
    )
    .into_request(false);
    assert!(req.timeseries.is_empty(), "{req:?}");
}

#[test]
fn target_info_carries_the_other_resource_attributes_unless_disabled() {
    use crate::testkit::{kv, s};
    let mut rm = metrics("svc", vec![gauge("queue.depth", 1)]);
    let resource = rm.resource.as_mut().unwrap();
    resource.attributes.push(kv("service.namespace", s("shop")));
    resource.attributes.push(kv("host.name", s("node-a")));
    let shape = convert::Shape {
        external_labels: [("cluster".to_string(), "c1".to_string())].into(),
        target_info: true,
        ..Default::default()
    };
    let req = convert::convert(std::slice::from_ref(&rm), &shape).into_request(false);
    let info = req
        .timeseries
        .iter()
        .find(|t| t.labels.iter().any(|l| l.name == "__name__" && l.value == "target_info"))
        .expect("target_info");
    let labels: Vec<(&str, &str)> = info.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
    assert_eq!(
        labels,
        vec![("__name__", "target_info"), ("cluster", "c1"), ("host_name", "node-a"), ("job", "shop/svc")]
    );
    assert_eq!((info.samples[0].value, info.samples[0].timestamp), (1.0, 0), "at the newest point's time (1 ns)");
    let off = convert::Shape { target_info: false, ..shape };
    let req = convert::convert(&[rm], &off).into_request(false);
    assert!(req.timeseries.iter().all(|t| !t.labels.iter().any(|l| l.value == "target_info")));
}

#[test]
fn target_info_is_on_unless_the_config_turns_it_off() {
    let on: RemoteWriteConfig =
        serde_json::from_value(serde_json::json!({"endpoint": "http://p/api/v1/write"})).unwrap();
    assert!(on.target_info.as_ref().is_none_or(|t| t.enabled));
    let off: RemoteWriteConfig = serde_json::from_value(
        serde_json::json!({"endpoint": "http://p/api/v1/write", "target_info": {"enabled": false}}),
    )
    .unwrap();
    assert!(!off.target_info.unwrap().enabled);
}

#[test]
fn max_batch_size_bytes_cuts_requests_by_series_size_and_sends_metadata_apart() {
    use prost::Message;
    let gauges: Vec<_> = (0..10).map(|i| gauge(&format!("queue.depth.{i}"), 1)).collect();
    let converted = || convert::convert(&[metrics("svc", gauges.clone())], &convert::Shape::default());
    let whole = converted().into_request(true);
    let (series, meta) = (whole.timeseries.len(), whole.metadata.len());
    assert!(series >= 10 && meta >= 10, "{series} series, {meta} metadata");
    assert_eq!(converted().into_requests(true, whole.encoded_len()), vec![whole.clone()]);
    let one = whole.timeseries[0].encoded_len();
    let cut = converted().into_requests(true, 3 * one);
    // every series and metadata entry arrives once, in order, and no request is over the limit
    let sent: Vec<_> = cut.iter().flat_map(|r| r.timeseries.clone()).collect();
    assert_eq!(sent, whole.timeseries);
    let sent_meta: Vec<_> = cut.iter().flat_map(|r| r.metadata.clone()).collect();
    assert_eq!(sent_meta, whole.metadata);
    assert!(cut.iter().all(|r| r.timeseries.is_empty() || r.metadata.is_empty()), "metadata goes apart");
    let series_bytes = |r: &proto::WriteRequest| r.timeseries.iter().map(|t| t.encoded_len()).sum::<usize>();
    assert!(cut.iter().all(|r| r.timeseries.len() <= 1 || series_bytes(r) < 3 * one));
    assert!(cut.len() > series / 3);
}

#[test]
fn export_created_metric_is_refused_when_enabled_and_the_size_must_be_positive() {
    let cfg = |extra: serde_json::Value| {
        let mut v = serde_json::json!({"endpoint": "http://p:9090/api/v1/write"});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        parse_section::<RemoteWriteConfig>(v).unwrap().validate()
    };
    assert!(cfg(serde_json::json!({"export_created_metric": {"enabled": false}})).is_ok());
    let e = cfg(serde_json::json!({"export_created_metric": {"enabled": true}})).unwrap_err();
    assert_eq!(e.path, "export_created_metric.enabled");
    assert_eq!(cfg(serde_json::json!({"max_batch_size_bytes": 0})).unwrap_err().path, "max_batch_size_bytes");
}
