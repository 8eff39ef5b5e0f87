//! Which Prometheus family an OTLP metric becomes, its name, and the values
//! of its points: the rules of otelcol-contrib's translators. A gauge is a
//! gauge; a monotonic sum a counter (`_total`); a cumulative non-monotonic sum
//! a gauge (named without `_ratio`, which is for gauges only); a delta
//! non-monotonic sum has no Prometheus meaning and is dropped. Points flagged
//! "no recorded value" become the stale marker; exemplars keep their trace
//! and span ids.

use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, AggregationTemporality, DataPointFlags, Exemplar as OtlpExemplar, Metric,
};

use super::names::{metric_name, NameKind};
use super::settings::Settings;

/// The stale marker: a NaN with these exact bits ends a series.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Gauge,
    Counter,
    Histogram,
    ExponentialHistogram,
    Summary,
}

/// A metric's Prometheus name and family; `delta` says the points carry
/// deltas, which an exporter accumulates (`prometheus`) or drops (remote write).
#[derive(Debug, Clone, PartialEq)]
pub struct Translated {
    pub name: String,
    pub family: Family,
    pub delta: bool,
}

/// The family and name of a metric; `None` for a metric with no data or a
/// delta non-monotonic sum.
pub fn translate(m: &Metric, settings: &Settings) -> Option<Translated> {
    let delta = |t: i32| t == AggregationTemporality::Delta as i32;
    let (family, kind, delta) = match m.data.as_ref()? {
        metric::Data::Gauge(_) => (Family::Gauge, NameKind::Gauge, false),
        metric::Data::Sum(s) if s.is_monotonic => {
            (Family::Counter, NameKind::Counter, delta(s.aggregation_temporality))
        }
        metric::Data::Sum(s) if delta(s.aggregation_temporality) => return None,
        metric::Data::Sum(_) => (Family::Gauge, NameKind::Other, false),
        metric::Data::Histogram(h) => (Family::Histogram, NameKind::Other, delta(h.aggregation_temporality)),
        metric::Data::ExponentialHistogram(h) => {
            (Family::ExponentialHistogram, NameKind::Other, delta(h.aggregation_temporality))
        }
        metric::Data::Summary(_) => (Family::Summary, NameKind::Other, false),
    };
    let name = metric_name(&m.name, &m.unit, kind, &settings.namespace, settings.add_suffixes);
    Some(Translated { name, family, delta })
}

/// A point's "no recorded value" flag: the series ended.
pub fn is_stale(flags: u32) -> bool {
    flags & DataPointFlags::NoRecordedValueMask as u32 != 0
}

/// A number point's value; the stale marker when flagged.
pub fn number(v: &Option<number_data_point::Value>, flags: u32) -> f64 {
    if is_stale(flags) {
        return f64::from_bits(STALE_NAN);
    }
    match v {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => f64::NAN,
    }
}

/// Nanoseconds since the epoch to Prometheus' milliseconds.
pub fn millis(nanos: u64) -> i64 {
    (nanos / 1_000_000) as i64
}

/// An exemplar: the span a sample came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// lower-case hex, the `trace_id` label
    pub trace_id: String,
    /// lower-case hex, the `span_id` label; empty when the span is unknown
    pub span_id: String,
    pub value: f64,
    pub time_unix_nano: u64,
}

/// The exemplars worth keeping: one without a trace id links nowhere and
/// one without a value says nothing.
pub fn exemplars(points: &[OtlpExemplar]) -> impl Iterator<Item = Exemplar> + '_ {
    points.iter().filter(|e| !e.trace_id.is_empty()).filter_map(|e| {
        let value = match e.value {
            Some(exemplar::Value::AsDouble(d)) => d,
            Some(exemplar::Value::AsInt(i)) => i as f64,
            None => return None,
        };
        Some(Exemplar {
            trace_id: const_hex::encode(&e.trace_id),
            span_id: const_hex::encode(&e.span_id),
            value,
            time_unix_nano: e.time_unix_nano,
        })
    })
}

/// The bucket an exemplar's value falls in: index into `bounds`, or
/// `bounds.len()` for `+Inf` (a bucket holds values up to its bound).
pub fn bucket_of(bounds: &[f64], value: f64) -> usize {
    bounds.partition_point(|b| *b < value)
}

/// A label value for a bound or a quantile, as Prometheus writes floats (`+Inf`).
pub fn float_label(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram, Sum};

    fn metric(name: &str, unit: &str, data: metric::Data) -> Metric {
        Metric { name: name.into(), unit: unit.into(), data: Some(data), ..Default::default() }
    }

    fn sum(monotonic: bool, temporality: AggregationTemporality) -> metric::Data {
        metric::Data::Sum(Sum {
            data_points: vec![],
            aggregation_temporality: temporality as i32,
            is_monotonic: monotonic,
        })
    }

    /// The family rules of upstream's `isValidAggregationTemporality` and
    /// `BuildCompliantName` (`_total` for monotonic sums, `_ratio` for gauges only).
    #[test]
    fn families_and_names_follow_the_metric_type() {
        use AggregationTemporality::{Cumulative, Delta};
        let s = Settings::default();
        let cases = [
            (
                metric("cpu.utilization", "1", metric::Data::Gauge(Gauge::default())),
                Some(("cpu_utilization_ratio", Family::Gauge, false)),
            ),
            (metric("requests", "1", sum(true, Cumulative)), Some(("requests_total", Family::Counter, false))),
            (metric("requests", "1", sum(true, Delta)), Some(("requests_total", Family::Counter, true))),
            (metric("queue.fill", "1", sum(false, Cumulative)), Some(("queue_fill", Family::Gauge, false))),
            (metric("queue.fill", "1", sum(false, Delta)), None),
            (
                metric("http.server.request.duration", "s", metric::Data::Histogram(Histogram::default())),
                Some(("http_server_request_duration_seconds", Family::Histogram, false)),
            ),
        ];
        for (m, want) in cases {
            let got = translate(&m, &s).map(|t| (t.name, t.family, t.delta));
            assert_eq!(got, want.map(|(n, f, d)| (n.to_string(), f, d)), "{}", m.name);
        }
        assert_eq!(translate(&Metric::default(), &s), None);
    }

    #[test]
    fn stale_points_carry_the_marker_bits() {
        let v = Some(number_data_point::Value::AsInt(3));
        assert_eq!(number(&v, 0), 3.0);
        assert_eq!(number(&v, DataPointFlags::NoRecordedValueMask as u32).to_bits(), STALE_NAN);
    }

    #[test]
    fn exemplars_without_trace_or_value_are_left_out_and_buckets_are_inclusive() {
        let e = |trace: Vec<u8>, v: Option<f64>| OtlpExemplar {
            trace_id: trace,
            span_id: vec![1; 8],
            value: v.map(exemplar::Value::AsDouble),
            ..Default::default()
        };
        let got: Vec<Exemplar> =
            exemplars(&[e(vec![0xab; 16], Some(2.0)), e(vec![], Some(1.0)), e(vec![1; 16], None)]).collect();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].trace_id.as_str(), got[0].span_id.as_str()), ("ab".repeat(16).as_str(), "0101010101010101"));
        assert_eq!(
            [bucket_of(&[5.0, 10.0], 5.0), bucket_of(&[5.0, 10.0], 5.1), bucket_of(&[5.0, 10.0], 11.0)],
            [0, 1, 2]
        );
    }
}
