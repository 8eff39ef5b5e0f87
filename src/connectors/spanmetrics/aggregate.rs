//! The connector's state: per resource, one series per distinct
//! (service.name, span.name, span.kind, status.code, dimensions) with a call
//! count, a duration histogram and recent exemplars. A span is looked up by
//! a key written into a reused buffer, so a span of a known series costs no
//! allocation; a new series builds its attributes once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyV;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};
use prost::Message;

use super::config::{SpanMetricsConfig, BUILTIN_DIMENSIONS};
use super::histogram::{Explicit, Exponential, Histogram};
use super::spans::{self, find, kind_str, status_str, Attr, SpanView};
use crate::otlp::wire::WireError;

/// A configured dimension, resolved once from the config.
pub(super) struct Dim {
    name: String,
    default: Option<AnyValue>,
}

pub struct Settings {
    pub(super) dims: Vec<Dim>,
    /// which of service.name, span.name, span.kind, status.code are kept
    pub(super) builtin: [bool; 4],
    pub(super) bounds: Vec<f64>,
    pub(super) exponential: Option<usize>,
    pub(super) histogram: bool,
    pub(super) unit_nanos: f64,
    pub(super) unit: &'static str,
    pub(super) exemplars: usize,
    pub(super) limit: usize,
    pub(super) delta: bool,
    pub(super) expiration: Duration,
    pub(super) max_resources: usize,
    pub(super) add_resource_attributes: bool,
    pub(super) key_attributes: Vec<String>,
    pub(super) calls_name: String,
    pub(super) duration_name: String,
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

pub(super) struct Series {
    pub(super) attrs: Vec<KeyValue>,
    pub(super) calls: u64,
    pub(super) histogram: Option<Histogram>,
    pub(super) exemplars: Vec<Exemplar>,
    pub(super) start_ns: u64,
}

pub(super) struct ResourceAgg {
    pub(super) attrs: Vec<KeyValue>,
    pub(super) index: HashMap<Box<[u8]>, usize>,
    pub(super) series: Vec<Series>,
    pub(super) overflow: Option<usize>,
    pub(super) last_seen: Instant,
}

pub struct Aggregator {
    pub(super) s: Settings,
    pub(super) resources: HashMap<Box<[u8]>, ResourceAgg>,
    /// reused buffers for the series and resource keys
    pub(super) key: Vec<u8>,
    pub(super) rkey: Vec<u8>,
    /// delta: the previous flush, the start time of the next points
    pub(super) last_flush_ns: u64,
}

pub const OVERFLOW_ATTRIBUTE: &str = "otel.metric.overflow";

fn str_value(v: &str) -> Option<AnyValue> {
    Some(AnyValue { value: Some(AnyV::StringValue(v.to_owned())) })
}

/// A decoded attribute value; an undecodable one reads as empty (the
/// request was validated on arrival, so this does not happen in practice).
fn any_value(bytes: &[u8]) -> AnyValue {
    AnyValue::decode(bytes).unwrap_or_default()
}

fn key_value(a: &Attr) -> KeyValue {
    KeyValue { key: String::from_utf8_lossy(a.key).into_owned(), value: Some(any_value(a.value)), ..Default::default() }
}

impl Aggregator {
    pub fn new(s: Settings, now_ns: u64) -> Aggregator {
        Aggregator {
            s,
            resources: HashMap::new(),
            key: Vec::with_capacity(256),
            rkey: Vec::with_capacity(64),
            last_flush_ns: now_ns,
        }
    }

    /// Series held across all resources (overflow series included).
    pub fn series_count(&self) -> usize {
        self.resources.values().map(|r| r.series.len()).sum()
    }

    /// Folds an encoded trace export request in; returns the spans counted.
    pub fn consume(&mut self, request: &[u8], now: Instant, now_ns: u64) -> Result<usize, WireError> {
        let Aggregator { s, resources, key, rkey, .. } = self;
        let mut counted = 0;
        let mut res_attrs: Vec<Attr> = Vec::new();
        let mut span_attrs: Vec<Attr> = Vec::with_capacity(16);
        spans::for_each_resource(request, |rs| {
            spans::resource_attributes(rs, &mut res_attrs)?;
            // as upstream: spans of a resource without service.name are not counted
            let Some(service) = find(&res_attrs, "service.name") else { return Ok(()) };
            let service = crate::otlp::pdata::as_string(&any_value(service));
            resource_key(s, &res_attrs, rkey);
            if !resources.contains_key(rkey.as_slice()) {
                if resources.len() >= s.max_resources {
                    let oldest = resources.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| k.clone());
                    if let Some(k) = oldest {
                        resources.remove(&k);
                    }
                }
                let attrs = if s.add_resource_attributes {
                    res_attrs.iter().map(key_value).collect()
                } else {
                    vec![KeyValue { key: "service.name".into(), value: str_value(&service), ..Default::default() }]
                };
                let agg =
                    ResourceAgg { attrs, index: HashMap::new(), series: Vec::new(), overflow: None, last_seen: now };
                resources.insert(rkey.as_slice().into(), agg);
            }
            let agg = resources.get_mut(rkey.as_slice()).expect("inserted above");
            agg.last_seen = now;
            let res_attrs = &res_attrs;
            spans::for_each_span(rs, &mut span_attrs, |span, attrs| {
                write_key(key, s, &service, span, attrs, res_attrs);
                let i = match agg.index.get(key.as_slice()) {
                    Some(i) => *i,
                    None => new_series(agg, s, key, &service, span, attrs, res_attrs, now_ns),
                };
                record(&mut agg.series[i], s, span);
                counted += 1;
            })
        })?;
        Ok(counted)
    }
}

/// The resource grouping key: `service.name` alone unless resource
/// attributes are added, then the key attributes (all by default).
fn resource_key(s: &Settings, attrs: &[Attr], key: &mut Vec<u8>) {
    let mut selected: Vec<&Attr> = attrs
        .iter()
        .filter(|a| {
            if !s.add_resource_attributes {
                a.key == b"service.name"
            } else {
                s.key_attributes.is_empty() || s.key_attributes.iter().any(|k| k.as_bytes() == a.key)
            }
        })
        .collect();
    selected.sort_by_key(|a| a.key);
    key.clear();
    for a in selected {
        for part in [a.key, a.value] {
            key.extend_from_slice(&(part.len() as u32).to_le_bytes());
            key.extend_from_slice(part);
        }
    }
}

/// The series key: the kept built-in dimensions, then each configured
/// dimension as present (span attribute, else resource attribute, as its
/// encoded value), default, or absent.
fn write_key(key: &mut Vec<u8>, s: &Settings, service: &str, span: &SpanView, attrs: &[Attr], res_attrs: &[Attr]) {
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
    key.push(if s.builtin[3] { span.status_code as u8 } else { 0 });
    for d in &s.dims {
        match find(attrs, &d.name).or_else(|| find(res_attrs, &d.name)) {
            Some(v) => {
                key.push(1);
                key.extend_from_slice(&(v.len() as u32).to_le_bytes());
                key.extend_from_slice(v);
            }
            None if d.default.is_some() => key.push(2),
            None => key.push(0),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn new_series(
    agg: &mut ResourceAgg,
    s: &Settings,
    key: &[u8],
    service: &str,
    span: &SpanView,
    attrs: &[Attr],
    res_attrs: &[Attr],
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
    let mut out = Vec::with_capacity(4 + s.dims.len());
    let builtin: [(&str, &str); 4] = [
        ("service.name", service),
        ("span.name", span.name),
        ("span.kind", kind_str(span.kind)),
        ("status.code", status_str(span.status_code)),
    ];
    for (keep, (k, v)) in s.builtin.iter().zip(builtin) {
        if *keep {
            out.push(kv(k, str_value(v)));
        }
    }
    for d in &s.dims {
        match find(attrs, &d.name).or_else(|| find(res_attrs, &d.name)) {
            Some(v) => out.push(kv(&d.name, Some(any_value(v)))),
            None => {
                if let Some(default) = &d.default {
                    out.push(kv(&d.name, Some(default.clone())));
                }
            }
        }
    }
    agg.series.push(empty_series(s, out, now_ns));
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

fn record(series: &mut Series, s: &Settings, span: &SpanView) {
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
            span_id: span.span_id.to_vec(),
            trace_id: span.trace_id.to_vec(),
            value: Some(exemplar::Value::AsDouble(duration)),
            ..Default::default()
        });
    }
}
