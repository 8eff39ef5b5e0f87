//! The series the `prometheus` exporter serves: OTLP data points folded into
//! Prometheus series (delta sums and histograms accumulated into cumulative
//! ones), each remembered until `metric_expiration` passes without an update.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, Exemplar as OtlpExemplar, Metric, NumberDataPoint, ResourceMetrics,
};

use crate::prometheus::points;
pub use crate::prometheus::points::Exemplar;
use crate::prometheus::{native, translate, Labels, ResourceLabels, Settings};

/// Settings that shape names and labels.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub settings: Settings,
    pub const_labels: Labels,
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

impl Store {
    /// Folds one request's resource metrics into the store.
    pub fn ingest(&mut self, resources: &[ResourceMetrics], shape: &Shape, now: Instant) {
        for rm in resources {
            let attrs = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
            let resource = ResourceLabels::new(attrs, &shape.settings);
            if resource.target_info().is_some() {
                let key: LabelSet = resource.identity.clone().into_iter().collect();
                self.targets.insert(key, (resource.info.clone().into_iter().collect(), now));
            }
            for sm in &rm.scope_metrics {
                for m in &sm.metrics {
                    self.ingest_metric(m, &resource, shape, now);
                }
            }
        }
    }

    fn ingest_metric(&mut self, m: &Metric, resource: &ResourceLabels, shape: &Shape, now: Instant) {
        let Some(t) = translate(m, &shape.settings) else { return };
        let labels =
            |attrs: &[KeyValue]| -> LabelSet { resource.series(attrs, &shape.const_labels).into_iter().collect() };
        // a scrape has no stale marker: a point flagged "no recorded value" shows its value as sent
        let number = |p: &NumberDataPoint| Value::Number(points::number(&p.value, 0));
        match &m.data {
            Some(metric::Data::Gauge(g)) => {
                let family = self.family(t.name, Kind::Gauge, &m.description);
                for p in &g.data_points {
                    family.set(labels(&p.attributes), number(p), p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Sum(s)) if t.family == crate::prometheus::Family::Counter => {
                let family = self.family(t.name, Kind::Counter, &m.description);
                for p in &s.data_points {
                    let key = labels(&p.attributes);
                    let mut v = points::number(&p.value, 0);
                    if t.delta {
                        if let Some(Value::Number(prev)) = family.series.get(&key).map(|s| &s.value) {
                            v += prev;
                        }
                    }
                    let exemplars = latest_exemplars(&p.exemplars, &[]);
                    family.set_with(key, Value::Number(v), exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Sum(s)) => {
                let family = self.family(t.name, Kind::Gauge, &m.description);
                for p in &s.data_points {
                    family.set(labels(&p.attributes), number(p), p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Histogram(h)) => {
                let family = self.family(t.name, Kind::Histogram, &m.description);
                for p in &h.data_points {
                    let key = labels(&p.attributes);
                    let mut value = Value::Histogram {
                        bounds: p.explicit_bounds.clone(),
                        counts: p.bucket_counts.clone(),
                        sum: p.sum.unwrap_or(0.0),
                        count: p.count,
                    };
                    if t.delta {
                        if let Some(prev) = family.series.get(&key) {
                            value = add_histograms(&prev.value, value);
                        }
                    }
                    let exemplars = latest_exemplars(&p.exemplars, &p.explicit_bounds);
                    family.set_with(key, value, exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                // the text exposition has no native histograms: classic buckets instead
                let family = self.family(t.name, Kind::Histogram, &m.description);
                for p in &h.data_points {
                    let (bounds, counts) = native::to_classic(p);
                    let exemplars = latest_exemplars(&p.exemplars, &bounds);
                    let value = Value::Histogram { bounds, counts, sum: p.sum.unwrap_or(0.0), count: p.count };
                    family.set_with(labels(&p.attributes), value, exemplars, p.time_unix_nano, now);
                }
            }
            Some(metric::Data::Summary(s)) => {
                let family = self.family(t.name, Kind::Summary, &m.description);
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
fn latest_exemplars(exemplars: &[OtlpExemplar], bounds: &[f64]) -> Vec<Option<Exemplar>> {
    if exemplars.is_empty() {
        return Vec::new();
    }
    let mut slots: Vec<Option<Exemplar>> = vec![None; if bounds.is_empty() { 1 } else { bounds.len() + 1 }];
    for e in points::exemplars(exemplars) {
        let i = if bounds.is_empty() { 0 } else { points::bucket_of(bounds, e.value) };
        if slots[i].as_ref().is_some_and(|old| old.time_unix_nano > e.time_unix_nano) {
            continue;
        }
        slots[i] = Some(e);
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
