//! OTLP metrics -> remote-write time series, through the shared translation
//! (`crate::prometheus`): one series per Prometheus sample name
//! (`_bucket`/`_sum`/`_count` for histograms, quantiles for summaries), an
//! exponential histogram as one series of native histogram samples, labels
//! sorted and unique, and a `target_info` sample per resource. Delta sums
//! and histograms are not representable here and are dropped, as otelcol does.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics};

use super::proto::{metric_type, BucketSpan, Exemplar, Histogram, Label, MetricMetadata, Sample, TimeSeries};
use crate::prometheus::native::{self, NativeHistogram};
use crate::prometheus::points::{self, float_label, millis, STALE_NAN};
use crate::prometheus::{translate, Family, Labels, ResourceLabels, Settings};

#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub settings: Settings,
    pub external_labels: Labels,
    /// write `target_info` (otelcol's `target_info.enabled`)
    pub target_info: bool,
}

/// Series keyed by their sorted labels, samples in time order.
#[derive(Debug, Default)]
pub struct Converted {
    pub series: BTreeMap<Vec<Label>, Vec<Sample>>,
    /// native histogram samples of the exponential histograms' series
    pub histograms: BTreeMap<Vec<Label>, Vec<Histogram>>,
    /// exemplars of the series that have any (spanmetrics with exemplars)
    pub exemplars: BTreeMap<Vec<Label>, Vec<Exemplar>>,
    pub metadata: BTreeMap<String, MetricMetadata>,
    /// points that could not be translated, and why
    pub errors: Vec<String>,
}

impl Converted {
    pub fn into_request(self, send_metadata: bool) -> super::proto::WriteRequest {
        let (mut samples, mut histograms, mut exemplars) = (self.series, self.histograms, self.exemplars);
        let mut keys: Vec<Vec<Label>> = samples.keys().chain(histograms.keys()).cloned().collect();
        keys.sort();
        keys.dedup();
        let timeseries = keys
            .into_iter()
            .map(|labels| {
                let mut samples = samples.remove(&labels).unwrap_or_default();
                samples.sort_by_key(|s| s.timestamp);
                let mut histograms = histograms.remove(&labels).unwrap_or_default();
                histograms.sort_by_key(|h| h.timestamp);
                let mut exemplars = exemplars.remove(&labels).unwrap_or_default();
                exemplars.sort_by_key(|e| e.timestamp);
                TimeSeries { labels, samples, exemplars, histograms }
            })
            .collect();
        let metadata = if send_metadata { self.metadata.into_values().collect() } else { Vec::new() };
        super::proto::WriteRequest { timeseries, metadata }
    }

    /// The request cut into requests of at most `max_bytes` (each series's
    /// encoded size counted, as otelcol's `batchTimeSeries`), series first,
    /// then the metadata in requests of their own. One request when it fits.
    pub fn into_requests(self, send_metadata: bool, max_bytes: usize) -> Vec<super::proto::WriteRequest> {
        use prost::Message;
        let whole = self.into_request(send_metadata);
        if whole.encoded_len() <= max_bytes {
            return vec![whole];
        }
        let series = chunks(whole.timeseries, max_bytes).into_iter();
        let metadata = chunks(whole.metadata, max_bytes).into_iter();
        series
            .map(|timeseries| super::proto::WriteRequest { timeseries, metadata: Vec::new() })
            .chain(metadata.map(|metadata| super::proto::WriteRequest { timeseries: Vec::new(), metadata }))
            .collect()
    }

    /// Adds a sample and the exemplars that belong to this series.
    fn push(&mut self, labels: Vec<Label>, value: f64, ts: i64, exemplars: impl Iterator<Item = points::Exemplar>) {
        self.add_exemplars(&labels, exemplars);
        self.series.entry(labels).or_default().push(Sample { value, timestamp: ts });
    }

    fn add_exemplars(&mut self, labels: &[Label], exemplars: impl Iterator<Item = points::Exemplar>) {
        let mut exemplars = exemplars.map(to_exemplar).peekable();
        if exemplars.peek().is_some() {
            self.exemplars.entry(labels.to_vec()).or_default().extend(exemplars);
        }
    }
}

/// The sorted label list of a series: its labels, `__name__`, and `extra`
/// (`le` or `quantile`); empty values are left out, as remote write requires.
fn series_key(labels: &Labels, name: &str, extra: Option<(&str, String)>) -> Vec<Label> {
    let mut labels = labels.clone();
    labels.insert("__name__".into(), name.to_owned());
    if let Some((k, v)) = extra {
        labels.insert(k.to_owned(), v);
    }
    labels.into_iter().filter(|(_, v)| !v.is_empty()).map(|(name, value)| Label { name, value }).collect()
}

/// An exemplar with its `trace_id`/`span_id` labels (sorted), as Prometheus stores them.
fn to_exemplar(e: points::Exemplar) -> Exemplar {
    let mut labels = vec![Label { name: "trace_id".into(), value: e.trace_id }];
    if !e.span_id.is_empty() {
        labels.insert(0, Label { name: "span_id".into(), value: e.span_id });
    }
    Exemplar { labels, value: e.value, timestamp: millis(e.time_unix_nano) }
}

fn to_histogram(h: NativeHistogram) -> Histogram {
    let spans = |s: Vec<native::BucketSpan>| s.into_iter().map(|s| BucketSpan { offset: s.offset, length: s.length });
    Histogram {
        count_int: Some(h.count),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count_int: Some(h.zero_count),
        negative_spans: spans(h.negative_spans).collect(),
        negative_deltas: h.negative_deltas,
        positive_spans: spans(h.positive_spans).collect(),
        positive_deltas: h.positive_deltas,
        reset_hint: 0,
        timestamp: h.timestamp_ms,
    }
}

/// Converts a request's metrics.
pub fn convert(resources: &[ResourceMetrics], shape: &Shape) -> Converted {
    let mut out = Converted::default();
    for rm in resources {
        let attrs = rm.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let resource = ResourceLabels::new(attrs, &shape.settings);
        let mut latest = 0u64;
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                latest = latest.max(convert_metric(&mut out, m, &resource, shape));
            }
        }
        // upstream writes target_info at the newest point's time, and only with points
        if let Some(mut labels) = resource.target_info().filter(|_| shape.target_info && latest > 0) {
            for (k, v) in &shape.external_labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let name = match shape.settings.namespace.as_str() {
                "" => "target_info".to_owned(),
                ns => format!("{ns}_target_info"),
            };
            out.push(series_key(&labels, &name, None), 1.0, millis(latest), std::iter::empty());
        }
    }
    out
}

/// Adds one metric's series; returns the newest point time seen (ns).
fn convert_metric(out: &mut Converted, m: &Metric, resource: &ResourceLabels, shape: &Shape) -> u64 {
    let Some(t) = translate(m, &shape.settings).filter(|t| !t.delta) else { return 0 };
    let labels = |attrs: &[KeyValue]| resource.series(attrs, &shape.external_labels);
    let ty = match t.family {
        Family::Gauge => metric_type::GAUGE,
        Family::Counter => metric_type::COUNTER,
        Family::Histogram | Family::ExponentialHistogram => metric_type::HISTOGRAM,
        Family::Summary => metric_type::SUMMARY,
    };
    let metadata = MetricMetadata {
        r#type: ty,
        metric_family_name: t.name.clone(),
        help: m.description.clone(),
        unit: m.unit.clone(),
    };
    out.metadata.insert(t.name.clone(), metadata);
    let n = &t.name;
    let mut latest = 0;
    match &m.data {
        Some(metric::Data::Gauge(g)) => {
            for p in &g.data_points {
                latest = latest.max(p.time_unix_nano);
                out.push(
                    series_key(&labels(&p.attributes), n, None),
                    points::number(&p.value, p.flags),
                    millis(p.time_unix_nano),
                    std::iter::empty(),
                );
            }
        }
        Some(metric::Data::Sum(s)) => {
            for p in &s.data_points {
                latest = latest.max(p.time_unix_nano);
                let v = points::number(&p.value, p.flags);
                out.push(
                    series_key(&labels(&p.attributes), n, None),
                    v,
                    millis(p.time_unix_nano),
                    points::exemplars(&p.exemplars),
                );
            }
        }
        Some(metric::Data::Histogram(h)) => {
            for p in &h.data_points {
                latest = latest.max(p.time_unix_nano);
                let labels = labels(&p.attributes);
                let ts = millis(p.time_unix_nano);
                let marker = points::is_stale(p.flags).then(|| f64::from_bits(STALE_NAN));
                let bounds = &p.explicit_bounds;
                let in_bucket = |i: usize| {
                    let all = points::exemplars(&p.exemplars);
                    all.filter(move |e| points::bucket_of(bounds, e.value) == i)
                };
                let mut cumulative = 0u64;
                for (i, bound) in bounds.iter().enumerate() {
                    cumulative += p.bucket_counts.get(i).copied().unwrap_or(0);
                    let key = series_key(&labels, &format!("{n}_bucket"), Some(("le", float_label(*bound))));
                    out.push(key, marker.unwrap_or(cumulative as f64), ts, in_bucket(i));
                }
                let key = series_key(&labels, &format!("{n}_bucket"), Some(("le", "+Inf".into())));
                out.push(key, marker.unwrap_or(p.count as f64), ts, in_bucket(bounds.len()));
                if let Some(sum) = p.sum {
                    out.push(
                        series_key(&labels, &format!("{n}_sum"), None),
                        marker.unwrap_or(sum),
                        ts,
                        std::iter::empty(),
                    );
                }
                out.push(
                    series_key(&labels, &format!("{n}_count"), None),
                    marker.unwrap_or(p.count as f64),
                    ts,
                    std::iter::empty(),
                );
            }
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            for p in &h.data_points {
                latest = latest.max(p.time_unix_nano);
                match native::to_native(p) {
                    Ok(native) => {
                        let key = series_key(&labels(&p.attributes), n, None);
                        out.add_exemplars(&key, points::exemplars(&p.exemplars));
                        out.histograms.entry(key).or_default().push(to_histogram(native));
                    }
                    Err(e) => out.errors.push(format!("{}: {e}", m.name)),
                }
            }
        }
        Some(metric::Data::Summary(s)) => {
            for p in &s.data_points {
                latest = latest.max(p.time_unix_nano);
                let labels = labels(&p.attributes);
                let ts = millis(p.time_unix_nano);
                let marker = points::is_stale(p.flags).then(|| f64::from_bits(STALE_NAN));
                for q in &p.quantile_values {
                    let key = series_key(&labels, n, Some(("quantile", float_label(q.quantile))));
                    out.push(key, marker.unwrap_or(q.value), ts, std::iter::empty());
                }
                out.push(
                    series_key(&labels, &format!("{n}_sum"), None),
                    marker.unwrap_or(p.sum),
                    ts,
                    std::iter::empty(),
                );
                out.push(
                    series_key(&labels, &format!("{n}_count"), None),
                    marker.unwrap_or(p.count as f64),
                    ts,
                    std::iter::empty(),
                );
            }
        }
        None => {}
    }
    latest
}

/// `items` in runs whose encoded sizes add up to less than `max_bytes` (a
/// single larger item goes alone), as otelcol's `batchTimeSeries` cuts them.
fn chunks<T: prost::Message>(items: Vec<T>, max_bytes: usize) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut size = 0;
    for item in items {
        let len = item.encoded_len();
        match out.last_mut() {
            Some(run) if size + len < max_bytes => run.push(item),
            _ => {
                out.push(vec![item]);
                size = 0;
            }
        }
        size += len;
    }
    out
}
