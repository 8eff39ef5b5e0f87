//! The connector's state: per resource, one series per distinct
//! (service.name, span.name, span.kind, status.code, dimensions) with a call
//! count, a duration histogram and recent exemplars. A span is looked up by
//! a key written into a reused buffer, so a span of a known series costs no
//! allocation; a new series builds its attributes once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyV;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, Exemplar, ExponentialHistogram,
    ExponentialHistogramDataPoint, Histogram as OtlpHistogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::config::{SpanMetricsConfig, BUILTIN_DIMENSIONS};
use super::histogram::{Explicit, Exponential, Histogram};
use super::spans::{kind_str, status_str, Span, TracesRequest};

/// A configured dimension, resolved once from the config.
struct Dim {
    name: String,
    default: Option<AnyValue>,
}

pub struct Settings {
    dims: Vec<Dim>,
    /// which of service.name, span.name, span.kind, status.code are kept
    builtin: [bool; 4],
    bounds: Vec<f64>,
    exponential: Option<usize>,
    histogram: bool,
    unit_nanos: f64,
    unit: &'static str,
    exemplars: usize,
    limit: usize,
    delta: bool,
    expiration: Duration,
    max_resources: usize,
    add_resource_attributes: bool,
    key_attributes: Vec<String>,
    calls_name: String,
    duration_name: String,
}

impl Settings {
    pub fn new(cfg: &SpanMetricsConfig) -> Settings {
        let name = |m: &str| if cfg.namespace.is_empty() { m.to_owned() } else { format!("{}.{m}", cfg.namespace) };
        Settings {
            dims: cfg
                .dimensions
                .iter()
                .map(|d| Dim {
                    name: d.name.clone(),
                    default: d.default.clone().map(|v| AnyValue { value: Some(AnyV::StringValue(v)) }),
                })
                .collect(),
            builtin: BUILTIN_DIMENSIONS.map(|b| !cfg.exclude_dimensions.iter().any(|e| e == b)),
            bounds: cfg.bounds(),
            exponential: cfg.exponential_max_size(),
            histogram: !cfg.histogram.disable,
            unit_nanos: cfg.histogram.unit.nanos(),
            unit: cfg.histogram.unit.as_str(),
            exemplars: if cfg.exemplars.enabled { cfg.max_exemplars() } else { 0 },
            limit: cfg.aggregation_cardinality_limit as usize,
            delta: cfg.is_delta(),
            expiration: cfg.metrics_expiration.0,
            max_resources: cfg.resource_metrics_cache_size,
            add_resource_attributes: cfg.add_resource_attributes,
            key_attributes: cfg.resource_metrics_key_attributes.clone(),
            calls_name: name("calls"),
            duration_name: name("duration"),
        }
    }
}

struct Series {
    attrs: Vec<KeyValue>,
    calls: u64,
    histogram: Option<Histogram>,
    exemplars: Vec<Exemplar>,
    start_ns: u64,
}

struct ResourceAgg {
    attrs: Vec<KeyValue>,
    index: HashMap<Box<[u8]>, usize>,
    series: Vec<Series>,
    overflow: Option<usize>,
    last_seen: Instant,
}

pub struct Aggregator {
    s: Settings,
    resources: HashMap<Box<[u8]>, ResourceAgg>,
    key: Vec<u8>,
    /// delta: the previous flush, the start time of the next points
    last_flush_ns: u64,
}

pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

fn str_value(v: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(AnyV::StringValue(v.to_owned())) })
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().find(|a| a.key == key).and_then(|a| a.value.as_ref())
}

impl Aggregator {
    pub fn new(s: Settings, now_ns: u64) -> Aggregator {
        Aggregator { s, resources: HashMap::new(), key: Vec::with_capacity(256), last_flush_ns: now_ns }
    }

    /// Series held across all resources (overflow series included).
    pub fn series_count(&self) -> usize {
        self.resources.values().map(|r| r.series.len()).sum()
    }

    /// Folds an encoded trace export request in; returns the spans counted.
    pub fn consume(&mut self, request: &[u8], now: Instant, now_ns: u64) -> Result<usize, prost::DecodeError> {
        let request = TracesRequest::decode(request)?;
        let mut counted = 0;
        for rs in &request.resource_spans {
            let res_attrs = rs.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
            // as upstream: spans of a resource without service.name are not counted
            let Some(service) = find(res_attrs, "service.name") else { continue };
            let service = crate::processors::actions::any_to_string(service);
            let rkey = self.resource_key(res_attrs);
            if !self.resources.contains_key(rkey.as_slice()) {
                self.evict_for_new_resource();
                let attrs = if self.s.add_resource_attributes {
                    res_attrs.to_vec()
                } else {
                    vec![KeyValue { key: "service.name".into(), value: str_value(&service), ..Default::default() }]
                };
                let agg =
                    ResourceAgg { attrs, index: HashMap::new(), series: Vec::new(), overflow: None, last_seen: now };
                self.resources.insert(rkey.clone().into_boxed_slice(), agg);
            }
            let agg = self.resources.get_mut(rkey.as_slice()).expect("inserted above");
            agg.last_seen = now;
            for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                write_key(&mut self.key, &self.s, &service, span, res_attrs);
                let i = match agg.index.get(self.key.as_slice()) {
                    Some(i) => *i,
                    None => new_series(agg, &self.s, &self.key, &service, span, res_attrs, now_ns),
                };
                record(&mut agg.series[i], &self.s, span);
                counted += 1;
            }
        }
        Ok(counted)
    }

    /// The resource grouping key: `service.name` alone unless resource
    /// attributes are added, then the key attributes (all by default).
    fn resource_key(&self, attrs: &[KeyValue]) -> Vec<u8> {
        let mut key = Vec::new();
        let mut selected: Vec<&KeyValue> = attrs
            .iter()
            .filter(|a| {
                if !self.s.add_resource_attributes {
                    a.key == "service.name"
                } else {
                    self.s.key_attributes.is_empty() || self.s.key_attributes.contains(&a.key)
                }
            })
            .collect();
        selected.sort_by(|a, b| a.key.cmp(&b.key));
        for a in selected {
            a.encode_length_delimited(&mut key).expect("a Vec grows");
        }
        key
    }

    fn evict_for_new_resource(&mut self) {
        if self.resources.len() < self.s.max_resources {
            return;
        }
        let oldest = self.resources.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.resources.remove(&k);
        }
    }

    /// Builds the metrics to send and resets what the temporality asks for:
    /// delta forgets every series, cumulative only the exemplars (and the
    /// resources idle for longer than `metrics_expiration`).
    pub fn flush(&mut self, now: Instant, now_ns: u64) -> Vec<ResourceMetrics> {
        if self.s.expiration > Duration::ZERO {
            let expiration = self.s.expiration;
            self.resources.retain(|_, r| now.duration_since(r.last_seen) < expiration);
        }
        let temporality =
            if self.s.delta { AggregationTemporality::Delta } else { AggregationTemporality::Cumulative } as i32;
        let mut out = Vec::with_capacity(self.resources.len());
        for r in self.resources.values_mut() {
            let mut calls = Vec::with_capacity(r.series.len());
            let mut durations = Vec::new();
            let mut exp_durations = Vec::new();
            for series in &mut r.series {
                let start = if self.s.delta { self.last_flush_ns } else { series.start_ns };
                let exemplars = std::mem::take(&mut series.exemplars);
                calls.push(NumberDataPoint {
                    attributes: series.attrs.clone(),
                    start_time_unix_nano: start,
                    time_unix_nano: now_ns,
                    value: Some(number_data_point::Value::AsInt(series.calls as i64)),
                    exemplars: exemplars.clone(),
                    ..Default::default()
                });
                match &series.histogram {
                    Some(Histogram::Explicit(h)) => durations.push(HistogramDataPoint {
                        attributes: series.attrs.clone(),
                        start_time_unix_nano: start,
                        time_unix_nano: now_ns,
                        count: h.count,
                        sum: Some(h.sum),
                        bucket_counts: h.counts.clone(),
                        explicit_bounds: self.s.bounds.clone(),
                        exemplars,
                        min: (h.count > 0).then_some(h.min),
                        max: (h.count > 0).then_some(h.max),
                        ..Default::default()
                    }),
                    Some(Histogram::Exponential(h)) => exp_durations.push(ExponentialHistogramDataPoint {
                        attributes: series.attrs.clone(),
                        start_time_unix_nano: start,
                        time_unix_nano: now_ns,
                        count: h.count,
                        sum: Some(h.sum),
                        scale: h.scale,
                        zero_count: h.zero_count,
                        positive: Some(h.positive()),
                        exemplars,
                        min: (h.count > 0).then_some(h.min),
                        max: (h.count > 0).then_some(h.max),
                        ..Default::default()
                    }),
                    None => {}
                }
            }
            let mut metrics = vec![Metric {
                name: self.s.calls_name.clone(),
                data: Some(metric::Data::Sum(Sum {
                    data_points: calls,
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                })),
                ..Default::default()
            }];
            let duration = |data| Metric {
                name: self.s.duration_name.clone(),
                unit: self.s.unit.to_owned(),
                data: Some(data),
                ..Default::default()
            };
            if !durations.is_empty() {
                metrics.push(duration(metric::Data::Histogram(OtlpHistogram {
                    data_points: durations,
                    aggregation_temporality: temporality,
                })));
            }
            if !exp_durations.is_empty() {
                metrics.push(duration(metric::Data::ExponentialHistogram(ExponentialHistogram {
                    data_points: exp_durations,
                    aggregation_temporality: temporality,
                })));
            }
            out.push(ResourceMetrics {
                resource: Some(Resource { attributes: r.attrs.clone(), ..Default::default() }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope { name: "spanmetricsconnector".into(), ..Default::default() }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            });
        }
        if self.s.delta {
            self.resources.clear();
        }
        self.last_flush_ns = now_ns;
        out
    }
}

/// The series key: the kept built-in dimensions, then each configured
/// dimension as present (span attribute, else resource attribute), default,
/// or absent.
fn write_key(key: &mut Vec<u8>, s: &Settings, service: &str, span: &Span, res_attrs: &[KeyValue]) {
    key.clear();
    if s.builtin[0] {
        key.extend_from_slice(service.as_bytes());
    }
    key.push(0);
    if s.builtin[1] {
        key.extend_from_slice(span.name.as_bytes());
    }
    key.push(0);
    key.push(if s.builtin[2] { span.kind as u8 } else { 0 });
    key.push(if s.builtin[3] { span.status.as_ref().map_or(0, |st| st.code) as u8 } else { 0 });
    for d in &s.dims {
        match find(&span.attributes, &d.name).or_else(|| find(res_attrs, &d.name)) {
            Some(v) => {
                key.push(1);
                v.encode_length_delimited(key).expect("a Vec grows");
            }
            None if d.default.is_some() => key.push(2),
            None => key.push(0),
        }
    }
}

fn new_series(
    agg: &mut ResourceAgg,
    s: &Settings,
    key: &[u8],
    service: &str,
    span: &Span,
    res_attrs: &[KeyValue],
    now_ns: u64,
) -> usize {
    let kv = |k: &str, v: Option<AnyValue>| KeyValue { key: k.to_owned(), value: v, ..Default::default() };
    let regular = agg.series.len() - usize::from(agg.overflow.is_some());
    if s.limit > 0 && regular >= s.limit {
        if let Some(i) = agg.overflow {
            return i;
        }
        let attrs = vec![
            kv("service.name", str_value(service)),
            kv(OVERFLOW_ATTRIBUTE, Some(AnyValue { value: Some(AnyV::BoolValue(true)) })),
        ];
        agg.series.push(empty_series(s, attrs, now_ns));
        agg.overflow = Some(agg.series.len() - 1);
        return agg.series.len() - 1;
    }
    let mut attrs = Vec::with_capacity(4 + s.dims.len());
    let builtin: [(&str, &str); 4] = [
        ("service.name", service),
        ("span.name", &span.name),
        ("span.kind", kind_str(span.kind)),
        ("status.code", status_str(span.status.as_ref().map_or(0, |st| st.code))),
    ];
    for (keep, (k, v)) in s.builtin.iter().zip(builtin) {
        if *keep {
            attrs.push(kv(k, str_value(v)));
        }
    }
    for d in &s.dims {
        match find(&span.attributes, &d.name).or_else(|| find(res_attrs, &d.name)) {
            Some(v) => attrs.push(kv(&d.name, Some(v.clone()))),
            None => {
                if let Some(default) = &d.default {
                    attrs.push(kv(&d.name, Some(default.clone())));
                }
            }
        }
    }
    agg.series.push(empty_series(s, attrs, now_ns));
    agg.index.insert(key.into(), agg.series.len() - 1);
    agg.series.len() - 1
}

fn empty_series(s: &Settings, attrs: Vec<KeyValue>, now_ns: u64) -> Series {
    let histogram = s.histogram.then(|| match s.exponential {
        Some(max) => Histogram::Exponential(Exponential::new(max)),
        None => Histogram::Explicit(Explicit::new(s.bounds.len())),
    });
    Series { attrs, calls: 0, histogram, exemplars: Vec::new(), start_ns: now_ns }
}

fn record(series: &mut Series, s: &Settings, span: &Span) {
    let nanos = span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano);
    let duration = nanos as f64 / s.unit_nanos;
    series.calls += 1;
    match &mut series.histogram {
        Some(Histogram::Explicit(h)) => h.observe(&s.bounds, duration),
        Some(Histogram::Exponential(h)) => h.observe(duration),
        None => {}
    }
    if series.exemplars.len() < s.exemplars && span.trace_id.iter().any(|b| *b != 0) {
        series.exemplars.push(Exemplar {
            time_unix_nano: span.end_time_unix_nano,
            span_id: span.span_id.clone(),
            trace_id: span.trace_id.clone(),
            value: Some(exemplar::Value::AsDouble(duration)),
            ..Default::default()
        });
    }
}
