//! OTLP metrics -> remote-write time series: one series per Prometheus
//! sample name (`_bucket`/`_sum`/`_count` for histograms, quantiles for
//! summaries), labels sorted and unique, `__name__` first by sort order,
//! names translated like the `prometheus` exporter's.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, DataPointFlags, Exemplar as OtlpExemplar, Metric, ResourceMetrics,
};

use super::proto::{metric_type, Exemplar, Label, MetricMetadata, Sample, TimeSeries, STALE_NAN};
use crate::exporters::prometheus::names::{metric_name, NameKind};
use crate::exporters::prometheus::store::labels_from;
use crate::processors::actions::any_to_string;

#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub namespace: String,
    pub external_labels: BTreeMap<String, String>,
    pub resource_to_telemetry: bool,
    pub add_suffixes: bool,
}

/// Series keyed by their sorted labels, samples in time order.
#[derive(Debug, Default)]
pub struct Converted {
    pub series: BTreeMap<Vec<Label>, Vec<Sample>>,
    /// exemplars of the series that have any (spanmetrics with exemplars)
    pub exemplars: BTreeMap<Vec<Label>, Vec<Exemplar>>,
    pub metadata: BTreeMap<String, MetricMetadata>,
}

impl Converted {
    pub fn into_request(self, send_metadata: bool) -> super::proto::WriteRequest {
        let mut exemplars = self.exemplars;
        let timeseries = self
            .series
            .into_iter()
            .map(|(labels, mut samples)| {
                samples.sort_by_key(|s| s.timestamp);
                let mut exemplars = exemplars.remove(&labels).unwrap_or_default();
                exemplars.sort_by_key(|e| e.timestamp);
                TimeSeries { labels, samples, exemplars }
            })
            .collect();
        let metadata = if send_metadata { self.metadata.into_values().collect() } else { Vec::new() };
        super::proto::WriteRequest { timeseries, metadata }
    }

    fn push(
        &mut self,
        name: &str,
        base: &BTreeMap<String, String>,
        extra: Option<(&str, String)>,
        value: f64,
        ts: i64,
    ) {
        self.push_with(name, base, extra, value, ts, std::iter::empty());
    }

    /// Adds a sample and the exemplars that belong to this series.
    fn push_with<'e>(
        &mut self,
        name: &str,
        base: &BTreeMap<String, String>,
        extra: Option<(&str, String)>,
        value: f64,
        ts: i64,
        exemplars: impl Iterator<Item = &'e OtlpExemplar>,
    ) {
        let mut labels: BTreeMap<String, String> = base.clone();
        if let Some((k, v)) = extra {
            labels.insert(k.to_owned(), v);
        }
        labels.insert("__name__".into(), name.to_owned());
        let key: Vec<Label> =
            labels.into_iter().filter(|(_, v)| !v.is_empty()).map(|(name, value)| Label { name, value }).collect();
        let mut exemplars = exemplars.filter_map(to_exemplar).peekable();
        if exemplars.peek().is_some() {
            self.exemplars.entry(key.clone()).or_default().extend(exemplars);
        }
        self.series.entry(key).or_default().push(Sample { value, timestamp: ts });
    }
}

fn exemplar_value(e: &OtlpExemplar) -> Option<f64> {
    match e.value {
        Some(exemplar::Value::AsDouble(d)) => Some(d),
        Some(exemplar::Value::AsInt(i)) => Some(i as f64),
        None => None,
    }
}

/// An exemplar with its `trace_id`/`span_id` labels (sorted), as Prometheus
/// stores them; one without a trace id says nothing and is left out.
fn to_exemplar(e: &OtlpExemplar) -> Option<Exemplar> {
    if e.trace_id.is_empty() {
        return None;
    }
    let mut labels = vec![Label { name: "trace_id".into(), value: const_hex::encode(&e.trace_id) }];
    if !e.span_id.is_empty() {
        labels.insert(0, Label { name: "span_id".into(), value: const_hex::encode(&e.span_id) });
    }
    Some(Exemplar { labels, value: exemplar_value(e)?, timestamp: (e.time_unix_nano / 1_000_000) as i64 })
}

fn float_label(v: f64) -> String {
    if v.is_infinite() {
        "+Inf".into()
    } else {
        v.to_string()
    }
}

/// Converts a request's metrics; `target_info` carries the resource attributes.
pub fn convert(resources: &[ResourceMetrics], shape: &Shape) -> Converted {
    let mut out = Converted::default();
    for rm in resources {
        let attrs = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let get = |k: &str| attrs.iter().find(|a| a.key == k).and_then(|a| a.value.as_ref()).map(any_to_string);
        let mut base: BTreeMap<String, String> = BTreeMap::new();
        if shape.resource_to_telemetry {
            base.extend(labels_from(attrs));
        }
        match (get("service.namespace"), get("service.name")) {
            (Some(ns), Some(n)) => {
                base.insert("job".into(), format!("{ns}/{n}"));
            }
            (None, Some(n)) => {
                base.insert("job".into(), n);
            }
            _ => {}
        }
        if let Some(i) = get("service.instance.id") {
            base.insert("instance".into(), i);
        }
        base.extend(shape.external_labels.clone());
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                convert_metric(&mut out, m, &base, shape);
            }
        }
    }
    out
}

fn convert_metric(out: &mut Converted, m: &Metric, base: &BTreeMap<String, String>, shape: &Shape) {
    let with = |attrs: &[KeyValue]| {
        let mut l = base.clone();
        for (k, v) in labels_from(attrs) {
            l.entry(k).or_insert(v);
        }
        l
    };
    let ms = |nanos: u64| (nanos / 1_000_000) as i64;
    let stale = |flags: u32| flags & DataPointFlags::NoRecordedValueMask as u32 != 0;
    let value = |v: &Option<number_data_point::Value>, flags: u32| {
        if stale(flags) {
            return f64::from_bits(STALE_NAN);
        }
        match v {
            Some(number_data_point::Value::AsDouble(d)) => *d,
            Some(number_data_point::Value::AsInt(i)) => *i as f64,
            None => f64::NAN,
        }
    };
    let name = |kind| metric_name(&m.name, &m.unit, kind, &shape.namespace, shape.add_suffixes);
    let meta = |out: &mut Converted, family: &str, ty: i32| {
        out.metadata.insert(
            family.to_owned(),
            MetricMetadata {
                r#type: ty,
                metric_family_name: family.to_owned(),
                help: m.description.clone(),
                unit: m.unit.clone(),
            },
        );
    };
    match &m.data {
        Some(metric::Data::Gauge(g)) => {
            let n = name(NameKind::Gauge);
            meta(out, &n, metric_type::GAUGE);
            for p in &g.data_points {
                out.push(&n, &with(&p.attributes), None, value(&p.value, p.flags), ms(p.time_unix_nano));
            }
        }
        Some(metric::Data::Sum(s)) => {
            // delta sums are not representable in remote write: skipped, as otelcol does
            if s.aggregation_temporality
                == opentelemetry_proto::tonic::metrics::v1::AggregationTemporality::Delta as i32
            {
                return;
            }
            let (n, ty) = if s.is_monotonic {
                (name(NameKind::Counter), metric_type::COUNTER)
            } else {
                (name(NameKind::Gauge), metric_type::GAUGE)
            };
            meta(out, &n, ty);
            for p in &s.data_points {
                let v = value(&p.value, p.flags);
                out.push_with(&n, &with(&p.attributes), None, v, ms(p.time_unix_nano), p.exemplars.iter());
            }
        }
        Some(metric::Data::Histogram(h)) => {
            if h.aggregation_temporality
                == opentelemetry_proto::tonic::metrics::v1::AggregationTemporality::Delta as i32
            {
                return;
            }
            let n = name(NameKind::Other);
            meta(out, &n, metric_type::HISTOGRAM);
            for p in &h.data_points {
                let labels = with(&p.attributes);
                let ts = ms(p.time_unix_nano);
                let marker = stale(p.flags).then(|| f64::from_bits(STALE_NAN));
                let mut cumulative = 0u64;
                // an exemplar goes to the bucket its value falls in
                let bucket_of = |e: &OtlpExemplar| {
                    exemplar_value(e).map(|v| p.explicit_bounds.partition_point(|b| *b < v)).unwrap_or(usize::MAX)
                };
                for (i, bound) in p.explicit_bounds.iter().enumerate() {
                    cumulative += p.bucket_counts.get(i).copied().unwrap_or(0);
                    out.push_with(
                        &format!("{n}_bucket"),
                        &labels,
                        Some(("le", float_label(*bound))),
                        marker.unwrap_or(cumulative as f64),
                        ts,
                        p.exemplars.iter().filter(|e| bucket_of(e) == i),
                    );
                }
                out.push_with(
                    &format!("{n}_bucket"),
                    &labels,
                    Some(("le", "+Inf".into())),
                    marker.unwrap_or(p.count as f64),
                    ts,
                    p.exemplars.iter().filter(|e| bucket_of(e) == p.explicit_bounds.len()),
                );
                if let Some(sum) = p.sum {
                    out.push(&format!("{n}_sum"), &labels, None, marker.unwrap_or(sum), ts);
                }
                out.push(&format!("{n}_count"), &labels, None, marker.unwrap_or(p.count as f64), ts);
            }
        }
        Some(metric::Data::Summary(s)) => {
            let n = name(NameKind::Other);
            meta(out, &n, metric_type::SUMMARY);
            for p in &s.data_points {
                let labels = with(&p.attributes);
                let ts = ms(p.time_unix_nano);
                let marker = stale(p.flags).then(|| f64::from_bits(STALE_NAN));
                for q in &p.quantile_values {
                    out.push(&n, &labels, Some(("quantile", float_label(q.quantile))), marker.unwrap_or(q.value), ts);
                }
                out.push(&format!("{n}_sum"), &labels, None, marker.unwrap_or(p.sum), ts);
                out.push(&format!("{n}_count"), &labels, None, marker.unwrap_or(p.count as f64), ts);
            }
        }
        // exponential histograms need native histograms (remote write 2.0); not sent
        Some(metric::Data::ExponentialHistogram(_)) | None => {}
    }
}
