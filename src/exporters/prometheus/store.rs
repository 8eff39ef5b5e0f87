//! The series the `prometheus` exporter serves: OTLP data points folded into
//! Prometheus series (delta sums and histograms accumulated into cumulative
//! ones), each remembered until `metric_expiration` passes without an update.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, ResourceMetrics,
};

use super::names::{label_name, metric_name, NameKind};
use crate::processors::actions::any_to_string;

/// Settings that shape names and labels.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub namespace: String,
    pub const_labels: Vec<(String, String)>,
    pub resource_to_telemetry: bool,
    pub add_suffixes: bool,
}

/// Sorted `(name, value)` label pairs.
pub type LabelSet = Vec<(String, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    Histogram,
    Summary,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram { bounds: Vec<f64>, counts: Vec<u64>, sum: f64, count: u64 },
    Summary { quantiles: Vec<(f64, f64)>, sum: f64, count: u64 },
}

/// An OpenMetrics exemplar: the span a sample came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub trace_id: String,
    pub span_id: String,
    pub value: f64,
    pub time_unix_nano: u64,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub value: Value,
    /// the latest exemplar per sample: one slot for a counter, one per
    /// bucket (the +Inf bucket last) for a histogram; empty without exemplars
    pub exemplars: Vec<Option<Exemplar>>,
    /// milliseconds since the epoch of the last data point
    pub timestamp_ms: i64,
    updated: Instant,
}

#[derive(Debug, Clone)]
pub struct Family {
    pub kind: Kind,
    pub help: String,
    /// sorted label sets -> series
    pub series: BTreeMap<Vec<(String, String)>, Series>,
}

#[derive(Debug, Default)]
pub struct Store {
    pub families: BTreeMap<String, Family>,
    /// `target_info` per (job, instance): the other resource attributes
    pub targets: BTreeMap<LabelSet, (LabelSet, Instant)>,
}

/// Labels from attributes; keys that collide after sanitising join their
/// values with `;` in key order, as the compatibility spec says.
pub fn labels_from(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    let mut by_label: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for kv in attrs {
        let value = kv.value.as_ref().map(any_to_string).unwrap_or_default();
        by_label.entry(label_name(&kv.key)).or_default().push((kv.key.clone(), value));
    }
    by_label
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, mut vs)| {
            vs.sort();
            (k, vs.into_iter().map(|(_, v)| v).collect::<Vec<_>>().join(";"))
        })
        .collect()
}

fn resource_identity(attrs: &[KeyValue]) -> (Option<String>, Option<String>) {
    let get = |k: &str| attrs.iter().find(|a| a.key == k).and_then(|a| a.value.as_ref()).map(any_to_string);
    let job = match (get("service.namespace"), get("service.name")) {
        (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
        (None, Some(name)) => Some(name),
        _ => None,
    };
    (job, get("service.instance.id"))
}

impl Store {
    /// Folds one request's resource metrics into the store.
    pub fn ingest(&mut self, resources: &[ResourceMetrics], shape: &Shape, now: Instant) {
        for rm in resources {
            let res_attrs = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
            let (job, instance) = resource_identity(res_attrs);
            let mut base: BTreeMap<String, String> = BTreeMap::new();
            if shape.resource_to_telemetry {
                base.extend(labels_from(res_attrs));
            }
            if let Some(j) = &job {
                base.insert("job".into(), j.clone());
            }
            if let Some(i) = &instance {
                base.insert("instance".into(), i.clone());
            }
            base.extend(shape.const_labels.iter().cloned());
            let info: Vec<(String, String)> = labels_from(
                &res_attrs
                    .iter()
                    .filter(|a| !matches!(a.key.as_str(), "service.name" | "service.namespace" | "service.instance.id"))
                    .cloned()
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .collect();
            if !info.is_empty() && (job.is_some() || instance.is_some()) {
                let key: Vec<(String, String)> = base
                    .iter()
                    .filter(|(k, _)| *k == "job" || *k == "instance")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.targets.insert(key, (info, now));
            }
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    self.ingest_metric(m, &base, shape, now);
                }
            }
        }
    }

    fn ingest_metric(
        &mut self,
        m: &opentelemetry_proto::tonic::metrics::v1::Metric,
        base: &BTreeMap<String, String>,
        shape: &Shape,
        now: Instant,
    ) {
        let number = |v: &Option<number_data_point::Value>| match v {
            Some(number_data_point::Value::AsDouble(d)) => *d,
            Some(number_data_point::Value::AsInt(i)) => *i as f64,
            None => f64::NAN,
        };
        let delta = |t: i32| t == AggregationTemporality::Delta as i32;
        let name_for = |kind: NameKind| metric_name(&m.name, &m.unit, kind, &shape.namespace, shape.add_suffixes);
        let labels = |attrs: &[KeyValue]| -> Vec<(String, String)> {
            let mut l = base.clone();
            for (k, v) in labels_from(attrs) {
                l.entry(k).or_insert(v);
            }
            l.into_iter().collect()
        };
        match &m.data {
            Some(metric::Data::Gauge(g)) => {
                let family = self.family(name_for(NameKind::Gauge), Kind::Gauge, &m.description);
                for p in &g.data_points {
                    family.set(labels(&p.attributes), Value::Number(number(&p.value)), p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Sum(s)) if s.is_monotonic => {
                let family = self.family(name_for(NameKind::Counter), Kind::Counter, &m.description);
                for p in &s.data_points {
                    let key = labels(&p.attributes);
                    let mut v = number(&p.value);
                    if delta(s.aggregation_temporality) {
                        if let Some(Value::Number(prev)) = family.series.get(&key).map(|s| &s.value) {
                            v += prev;
                        }
                    }
                    let exemplars = latest_exemplars(&p.exemplars, &[]);
                    family.set_with(key, Value::Number(v), exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Sum(s)) => {
                // a non-monotonic delta sum has no Prometheus meaning: dropped, as in otelcol
                if delta(s.aggregation_temporality) {
                    return;
                }
                let family = self.family(name_for(NameKind::Gauge), Kind::Gauge, &m.description);
                for p in &s.data_points {
                    family.set(labels(&p.attributes), Value::Number(number(&p.value)), p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Histogram(h)) => {
                let family = self.family(name_for(NameKind::Other), Kind::Histogram, &m.description);
                for p in &h.data_points {
                    let key = labels(&p.attributes);
                    let mut value = Value::Histogram {
                        bounds: p.explicit_bounds.clone(),
                        counts: p.bucket_counts.clone(),
                        sum: p.sum.unwrap_or(0.0),
                        count: p.count,
                    };
                    if delta(h.aggregation_temporality) {
                        if let Some(prev) = family.series.get(&key) {
                            value = add_histograms(&prev.value, value);
                        }
                    }
                    let exemplars = latest_exemplars(&p.exemplars, &p.explicit_bounds);
                    family.set_with(key, value, exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                // documented conversion: positive buckets become classic buckets with
                // upper bounds base^(offset+i+1); negative buckets are not representable
                let family = self.family(name_for(NameKind::Other), Kind::Histogram, &m.description);
                for p in &h.data_points {
                    let base = 2f64.powf(2f64.powi(-p.scale));
                    let positive = p.positive.clone().unwrap_or_default();
                    let mut bounds = vec![0.0];
                    let mut counts = vec![p.zero_count];
                    for (i, c) in positive.bucket_counts.iter().enumerate() {
                        bounds.push(base.powi(positive.offset + i as i32 + 1));
                        counts.push(*c);
                    }
                    counts.push(0);
                    let exemplars = latest_exemplars(&p.exemplars, &bounds);
                    let value = Value::Histogram { bounds, counts, sum: p.sum.unwrap_or(0.0), count: p.count };
                    family.set_with(labels(&p.attributes), value, exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Summary(s)) => {
                let family = self.family(name_for(NameKind::Other), Kind::Summary, &m.description);
                for p in &s.data_points {
                    let quantiles = p.quantile_values.iter().map(|q| (q.quantile, q.value)).collect();
                    let value = Value::Summary { quantiles, sum: p.sum, count: p.count };
                    family.set(labels(&p.attributes), value, p.time_unix_nano, now);
                }
            }
            None => {}
        }
    }

    fn family(&mut self, name: String, kind: Kind, help: &str) -> &mut Family {
        self.families.entry(name).or_insert_with(|| Family { kind, help: help.to_owned(), series: BTreeMap::new() })
    }

    /// Forgets series not updated within `expiration`.
    pub fn expire(&mut self, now: Instant, expiration: Duration) {
        for family in self.families.values_mut() {
            family.series.retain(|_, s| now.duration_since(s.updated) <= expiration);
        }
        self.families.retain(|_, f| !f.series.is_empty());
        self.targets.retain(|_, (_, at)| now.duration_since(*at) <= expiration);
    }
}

impl Family {
    fn set(&mut self, labels: Vec<(String, String)>, value: Value, time_unix_nano: u64, now: Instant) {
        self.set_with(labels, value, Vec::new(), time_unix_nano, now)
    }

    /// Stores a point; a point without exemplars keeps the series' last ones
    /// (a cumulative series is re-sent without them between spans).
    fn set_with(
        &mut self,
        labels: Vec<(String, String)>,
        value: Value,
        mut exemplars: Vec<Option<Exemplar>>,
        time_unix_nano: u64,
        now: Instant,
    ) {
        let timestamp_ms = (time_unix_nano / 1_000_000) as i64;
        if let Some(prev) = self.series.get_mut(&labels) {
            if exemplars.is_empty() {
                exemplars = std::mem::take(&mut prev.exemplars);
            } else if prev.exemplars.len() == exemplars.len() {
                for (slot, old) in exemplars.iter_mut().zip(prev.exemplars.drain(..)) {
                    if slot.is_none() {
                        *slot = old;
                    }
                }
            }
            *prev = Series { value, exemplars, timestamp_ms, updated: now };
            return;
        }
        self.series.insert(labels, Series { value, exemplars, timestamp_ms, updated: now });
    }
}

/// The latest exemplar per sample: with no `bounds` one slot (a counter),
/// else one per bucket, an exemplar going to the bucket its value falls in.
fn latest_exemplars(
    exemplars: &[opentelemetry_proto::tonic::metrics::v1::Exemplar],
    bounds: &[f64],
) -> Vec<Option<Exemplar>> {
    if exemplars.is_empty() {
        return Vec::new();
    }
    let mut slots: Vec<Option<Exemplar>> = vec![None; if bounds.is_empty() { 1 } else { bounds.len() + 1 }];
    for e in exemplars {
        if e.trace_id.is_empty() {
            continue;
        }
        let value = match e.value {
            Some(exemplar::Value::AsDouble(d)) => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            None => continue,
        };
        let i = if bounds.is_empty() { 0 } else { bounds.partition_point(|b| *b < value) };
        if slots[i].as_ref().is_some_and(|old| old.time_unix_nano > e.time_unix_nano) {
            continue;
        }
        slots[i] = Some(Exemplar {
            trace_id: const_hex::encode(&e.trace_id),
            span_id: const_hex::encode(&e.span_id),
            value,
            time_unix_nano: e.time_unix_nano,
        });
    }
    slots
}

fn add_histograms(prev: &Value, next: Value) -> Value {
    match (prev, next) {
        (
            Value::Histogram { bounds: pb, counts: pc, sum: ps, count: pn },
            Value::Histogram { bounds, counts, sum, count },
        ) if *pb == bounds && pc.len() == counts.len() => Value::Histogram {
            counts: pc.iter().zip(&counts).map(|(a, b)| a + b).collect(),
            bounds,
            sum: ps + sum,
            count: pn + count,
        },
        // bucket layout changed: start again from this point
        (_, next) => next,
    }
}
