//! Exponential histograms for Prometheus. As a native histogram (remote
//! write's `Histogram`), per otelcol-contrib's
//! `prometheusremotewrite.exponentialToNativeHistogram`: the OTLP scale is the
//! schema (scales below -4 are refused; above 8 the buckets are merged down to
//! schema 8, `2^(scale-8)` into one), bucket `i` of OTLP covers
//! `(base^i, base^(i+1)]` and so is Prometheus bucket `i+1`, and the dense
//! counts become spans and deltas (gaps of up to two empty buckets are written
//! as zeros, longer ones start a new span). As classic buckets for the
//! text exposition: upper bounds `base^(offset+i+1)` after a `0` bucket
//! holding the zero count and the negative values.

use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
use opentelemetry_proto::tonic::metrics::v1::ExponentialHistogramDataPoint;

use super::points::{is_stale, millis, STALE_NAN};

/// The zero threshold written when the point has none (upstream's `defaultZeroThreshold`).
pub const DEFAULT_ZERO_THRESHOLD: f64 = 1e-128;

/// The finest schema Prometheus accepts.
pub const MAX_SCHEMA: i32 = 8;

/// The coarsest schema Prometheus accepts.
pub const MIN_SCHEMA: i32 = -4;

/// A run of consecutive buckets: `offset` from the end of the previous span
/// (from index 0 for the first), `length` buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSpan {
    pub offset: i32,
    pub length: u32,
}

/// A native histogram with integer counts, as remote write carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeHistogram {
    /// the count, or the stale marker's bits when the point has no recorded value
    pub count: u64,
    pub sum: f64,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub negative_spans: Vec<BucketSpan>,
    pub negative_deltas: Vec<i64>,
    pub positive_spans: Vec<BucketSpan>,
    pub positive_deltas: Vec<i64>,
    pub timestamp_ms: i64,
}

/// The native histogram of an exponential histogram point, or why there is none.
pub fn to_native(p: &ExponentialHistogramDataPoint) -> Result<NativeHistogram, String> {
    if p.scale < MIN_SCHEMA {
        return Err(format!(
            "cannot convert exponential to native histogram: scale must be >= {MIN_SCHEMA}, was {}",
            p.scale
        ));
    }
    let scale_down = (p.scale - MAX_SCHEMA).max(0) as u32;
    let empty = Buckets::default();
    let (positive_spans, positive_deltas) = spans_and_deltas(p.positive.as_ref().unwrap_or(&empty), scale_down);
    let (negative_spans, negative_deltas) = spans_and_deltas(p.negative.as_ref().unwrap_or(&empty), scale_down);
    let (count, sum) =
        if is_stale(p.flags) { (STALE_NAN, f64::from_bits(STALE_NAN)) } else { (p.count, p.sum.unwrap_or(0.0)) };
    Ok(NativeHistogram {
        count,
        sum,
        schema: p.scale.min(MAX_SCHEMA),
        zero_threshold: if p.zero_threshold > 0.0 { p.zero_threshold } else { DEFAULT_ZERO_THRESHOLD },
        zero_count: p.zero_count,
        negative_spans,
        negative_deltas,
        positive_spans,
        positive_deltas,
        timestamp_ms: millis(p.time_unix_nano),
    })
}

/// OTLP's dense buckets as Prometheus spans and deltas, merging `2^scale_down`
/// buckets into one. Empty buckets are left out except in gaps of one or two
/// and the last one, which is always written (as upstream does).
pub fn spans_and_deltas(buckets: &Buckets, scale_down: u32) -> (Vec<BucketSpan>, Vec<i64>) {
    // (Prometheus index, count), consecutive OTLP buckets with the same index merged
    let mut merged: Vec<(i32, u64)> = Vec::new();
    for (i, count) in buckets.bucket_counts.iter().enumerate() {
        let index = ((buckets.offset + i as i32) >> scale_down) + 1;
        match merged.last_mut() {
            Some((last, c)) if *last == index => *c += count,
            _ => merged.push((index, *count)),
        }
    }
    let Some(&(first, _)) = merged.first() else {
        return (Vec::new(), Vec::new());
    };
    let mut spans = vec![BucketSpan { offset: first, length: 0 }];
    let mut deltas = Vec::new();
    let (mut next, mut previous) = (first, 0i64);
    let last = merged.len() - 1;
    for (n, &(index, count)) in merged.iter().enumerate() {
        if count == 0 && n != last {
            continue;
        }
        let gap = index - next;
        if gap > 2 {
            spans.push(BucketSpan { offset: gap, length: 0 });
        } else {
            // a short gap is cheaper written as empty buckets than as a new span
            for _ in 0..gap {
                deltas.push(-previous);
                previous = 0;
            }
            spans.last_mut().expect("one span at least").length += gap as u32;
        }
        spans.last_mut().expect("one span at least").length += 1;
        deltas.push(count as i64 - previous);
        previous = count as i64;
        next = index + 1;
    }
    (spans, deltas)
}

/// Classic buckets for an exponential histogram point: bounds and per-bucket
/// counts (the `+Inf` bucket last, empty). The `0` bucket holds every value at
/// or below zero: the zero count and the negative buckets.
pub fn to_classic(p: &ExponentialHistogramDataPoint) -> (Vec<f64>, Vec<u64>) {
    let base = 2f64.powf(2f64.powi(-p.scale));
    let positive = p.positive.clone().unwrap_or_default();
    let negative: u64 = p.negative.as_ref().map(|n| n.bucket_counts.iter().sum()).unwrap_or(0);
    let mut bounds = vec![0.0];
    let mut counts = vec![p.zero_count + negative];
    for (i, c) in positive.bucket_counts.iter().enumerate() {
        bounds.push(base.powi(positive.offset + i as i32 + 1));
        counts.push(*c);
    }
    counts.push(0);
    (bounds, counts)
}

#[cfg(test)]
#[path = "native_tests.rs"]
mod tests;
