//! Turning the aggregated series into OTLP metrics at each flush: a
//! `calls` sum and a `duration` histogram (explicit or exponential) per
//! resource, with the exemplars gathered since the previous flush.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, ExponentialHistogram, ExponentialHistogramDataPoint,
    Histogram as OtlpHistogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::aggregate::Aggregator;
use super::histogram::Histogram;

impl Aggregator {
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
