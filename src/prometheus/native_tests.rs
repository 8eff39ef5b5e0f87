//! Golden cases from otelcol-contrib's
//! `pkg/translator/prometheusremotewrite/histograms_test.go`
//! (`TestConvertBucketsLayout`, `TestExponentialToNativeHistogram`).

use super::*;

fn buckets(offset: i32, counts: &[u64]) -> Buckets {
    Buckets { offset, bucket_counts: counts.to_vec() }
}

fn spans(s: &[(i32, u32)]) -> Vec<BucketSpan> {
    s.iter().map(|&(offset, length)| BucketSpan { offset, length }).collect()
}

type Layout<'a> = (&'a [(i32, u32)], &'a [i64]);

#[test]
fn bucket_layouts_at_scale_downs_0_1_2() {
    let sparse = [4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let merging = [4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    let cases: &[(&str, Buckets, [Layout; 3])] = &[
        (
            "zero offset",
            buckets(0, &[4, 3, 2, 1]),
            [(&[(1, 4)], &[4, -1, -1, -1]), (&[(1, 2)], &[7, -4]), (&[(1, 1)], &[10])],
        ),
        (
            "offset 1",
            buckets(1, &[4, 3, 2, 1]),
            [(&[(2, 4)], &[4, -1, -1, -1]), (&[(1, 3)], &[4, 1, -4]), (&[(1, 2)], &[9, -8])],
        ),
        (
            "positive offset",
            buckets(4, &sparse),
            [
                (&[(5, 4), (12, 1)], &[4, -2, -2, 2, -1]),
                (&[(3, 2), (6, 1)], &[6, -4, -1]),
                (&[(2, 1), (3, 1)], &[8, -7]),
            ],
        ),
        (
            "scaledown merges spans",
            buckets(4, &merging),
            [(&[(5, 4), (8, 1)], &[4, -2, -2, 2, -1]), (&[(3, 2), (4, 1)], &[6, -4, -1]), (&[(2, 4)], &[8, -8, 0, 1])],
        ),
        (
            "negative offset",
            buckets(-2, &[3, 1, 0, 0, 0, 1]),
            [(&[(-1, 2), (3, 1)], &[3, -2, 0]), (&[(0, 3)], &[4, -4, 1]), (&[(0, 2)], &[4, -3])],
        ),
        (
            "buckets with gaps of size 1",
            buckets(-2, &[3, 1, 0, 1, 0, 1]),
            [(&[(-1, 6)], &[3, -2, -1, 1, -1, 1]), (&[(0, 3)], &[4, -3, 0]), (&[(0, 2)], &[4, -2])],
        ),
        (
            "buckets with gaps of size 2",
            buckets(-2, &[3, 0, 0, 1, 0, 0, 1]),
            [(&[(-1, 7)], &[3, -3, 0, 1, -1, 0, 1]), (&[(0, 4)], &[3, -2, -1, 1]), (&[(0, 3)], &[3, -2, 0])],
        ),
        ("zero buckets", Buckets::default(), [(&[], &[]), (&[], &[]), (&[], &[])]),
    ];
    for (name, b, layouts) in cases {
        for (scale_down, (want_spans, want_deltas)) in layouts.iter().enumerate() {
            let (got_spans, got_deltas) = spans_and_deltas(b, scale_down as u32);
            assert_eq!(got_spans, spans(want_spans), "{name} scale down {scale_down}: spans");
            assert_eq!(got_deltas, want_deltas.to_vec(), "{name} scale down {scale_down}: deltas");
        }
    }
}

#[test]
fn trailing_and_all_empty_buckets_are_written_as_upstream_does() {
    assert_eq!(spans_and_deltas(&buckets(0, &[5, 0]), 0), (spans(&[(1, 2)]), vec![5, -5]));
    assert_eq!(spans_and_deltas(&buckets(0, &[0, 0]), 0), (spans(&[(1, 2)]), vec![0, 0]));
    assert_eq!(spans_and_deltas(&buckets(0, &[0, 0, 0, 0, 5]), 0), (spans(&[(1, 0), (4, 1)]), vec![5]));
}

fn point(
    scale: i32,
    count: u64,
    sum: Option<f64>,
    positive: Buckets,
    negative: Buckets,
) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        time_unix_nano: 500_000_000,
        start_time_unix_nano: 100_000_000,
        count,
        sum,
        scale,
        zero_count: 1,
        positive: Some(positive),
        negative: Some(negative),
        ..Default::default()
    }
}

fn native(schema: i32, count: u64, sum: f64, positive: Layout, negative: Layout) -> NativeHistogram {
    NativeHistogram {
        count,
        sum,
        schema,
        zero_threshold: DEFAULT_ZERO_THRESHOLD,
        zero_count: 1,
        negative_spans: spans(negative.0),
        negative_deltas: negative.1.to_vec(),
        positive_spans: spans(positive.0),
        positive_deltas: positive.1.to_vec(),
        timestamp_ms: 500,
    }
}

#[test]
fn exponential_points_become_native_histograms() {
    let two = || buckets(1, &[1, 1]);
    let three = |offset| buckets(offset, &[1, 1, 1]);
    let cases = [
        (
            "convert",
            point(1, 4, Some(10.1), two(), two()),
            native(1, 4, 10.1, (&[(2, 2)], &[1, 0]), (&[(2, 2)], &[1, 0])),
        ),
        ("no sum", point(1, 4, None, two(), two()), native(1, 4, 0.0, (&[(2, 2)], &[1, 0]), (&[(2, 2)], &[1, 0]))),
        (
            "no downscaling at scale 8",
            point(8, 6, Some(10.1), three(1), three(2)),
            native(8, 6, 10.1, (&[(2, 3)], &[1, 0, 0]), (&[(3, 3)], &[1, 0, 0])),
        ),
        (
            "downsample if scale is more than 8",
            point(9, 6, Some(10.1), three(1), three(2)),
            native(8, 6, 10.1, (&[(1, 2)], &[1, 1]), (&[(2, 2)], &[2, -1])),
        ),
    ];
    for (name, p, want) in cases {
        assert_eq!(to_native(&p).unwrap(), want, "{name}");
    }
    let coarse = ExponentialHistogramDataPoint { scale: -10, ..Default::default() };
    assert!(to_native(&coarse).unwrap_err().contains("scale must be >= -4, was -10"));
}

#[test]
fn a_point_without_recorded_value_is_the_stale_marker_and_a_set_zero_threshold_is_kept() {
    use opentelemetry_proto::tonic::metrics::v1::DataPointFlags;
    let p = ExponentialHistogramDataPoint {
        flags: DataPointFlags::NoRecordedValueMask as u32,
        zero_threshold: 0.001,
        ..point(0, 3, Some(1.0), buckets(0, &[2]), Buckets::default())
    };
    let h = to_native(&p).unwrap();
    assert_eq!((h.count, h.sum.to_bits(), h.zero_threshold), (STALE_NAN, STALE_NAN, 0.001));
}

#[test]
fn classic_buckets_end_at_powers_of_the_base() {
    let p = point(1, 9, Some(9.0), buckets(1, &[2, 3]), buckets(0, &[3, 1]));
    let (bounds, counts) = to_classic(&p);
    let base = 2f64.sqrt();
    assert_eq!(bounds, vec![0.0, base.powi(2), base.powi(3)]);
    assert_eq!(counts, vec![1 + 4, 2, 3, 0], "le=0 holds the zero count and the negative values");
}
