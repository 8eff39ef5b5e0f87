//! Scraped families -> OTLP metrics, as otelcol's prometheus receiver maps
//! them: counters become monotonic cumulative sums named without `_total`,
//! histograms and summaries are reassembled from their `_bucket`/`_sum`/
//! `_count` samples, start times are the first time a series was seen (reset
//! when a counter goes down), and each target is a resource with
//! `service.name` = job and `service.instance.id` = instance.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::parse::{Family, MetricType, Sample};

/// What one target scrape knows about itself.
pub struct Target<'a> {
    pub job: &'a str,
    pub instance: &'a str,
    pub scheme: &'a str,
}

/// A series: metric name and its attribute pairs.
type SeriesKey = (String, Vec<(String, String)>);

/// Start times per series, kept across scrapes of one target: the start in
/// ns and the last value seen.
#[derive(Default)]
pub struct StartTimes {
    seen: HashMap<SeriesKey, (u64, f64)>,
    /// `use_start_time_metric`: this scrape's process start, which every
    /// cumulative point takes as its start
    process_start: Option<u64>,
}

impl StartTimes {
    /// The start time for a cumulative value; a value lower than last time
    /// is a reset, and the series starts again now.
    fn start(&mut self, name: &str, labels: &[KeyValue], value: f64, now: u64) -> u64 {
        if let Some(start) = self.process_start {
            return start;
        }
        let key = (name.to_owned(), labels.iter().map(|kv| (kv.key.clone(), str_of(kv))).collect());
        let entry = self.seen.entry(key).or_insert((now, value));
        if value < entry.1 {
            entry.0 = now;
        }
        entry.1 = value;
        entry.0
    }
}

impl StartTimes {
    /// For `use_start_time_metric`: finds the first family whose name
    /// matches `re` and makes its value (seconds since the epoch) the start
    /// of every cumulative point of this scrape. Without one, start times
    /// fall back to first sight (otelcol drops such a scrape instead); the
    /// error says so for the log.
    pub fn use_process_start(&mut self, families: &[Family], re: &regex::Regex) -> Result<(), String> {
        let found = families.iter().find(|f| re.is_match(&f.name)).and_then(|f| f.samples.first());
        self.process_start = found.map(|s| (s.value * 1e9) as u64);
        match found {
            Some(_) => Ok(()),
            None => Err(format!("no metric matches start_time_metric_regex {:?}", re.as_str())),
        }
    }
}

/// otelcol's `TrimPromSuffixes`: without the type suffix (`_total` of a
/// counter) and then the unit's tokens (`_seconds` for unit `seconds`).
pub fn trim_suffixes(name: &str, kind: MetricType, unit: &str) -> String {
    let mut tokens: Vec<&str> = name.split('_').collect();
    if tokens.len() == 1 {
        return name.to_owned();
    }
    if kind == MetricType::Counter && tokens.len() > 1 && tokens.last() == Some(&"total") {
        tokens.pop();
    }
    let unit_tokens: Vec<&str> = unit.split('_').collect();
    if !unit.is_empty() && tokens.len() > unit_tokens.len() && tokens.ends_with(&unit_tokens) {
        tokens.truncate(tokens.len() - unit_tokens.len());
    }
    tokens.join("_")
}

fn str_of(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(V::StringValue(s)) => s.clone(),
        _ => String::new(),
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(AnyValue { value: Some(V::StringValue(v.to_owned())) }),
        ..Default::default()
    }
}

/// The data point attributes: the sample's labels, already merged with the
/// target's and relabeled by the scrape loop, without `le`/`quantile`.
fn attributes(sample: &Sample, _target: &Target, skip: &str) -> Vec<KeyValue> {
    sample.labels.iter().filter(|(k, _)| k.as_str() != skip).map(|(k, v)| kv(k, v)).collect()
}

fn gauge_point(attrs: Vec<KeyValue>, value: f64, time: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..Default::default()
    }
}

/// Converts one scrape into a resource; `now` is the scrape time in ns.
pub fn to_otlp(
    families: &[Family],
    target: &Target,
    starts: &mut StartTimes,
    now: u64,
    extra: Vec<Metric>,
    trim: bool,
) -> ResourceMetrics {
    let time = |s: &Sample| s.timestamp_ms.map_or(now, |ms| ms as u64 * 1_000_000);
    let mut metrics = Vec::new();
    for f in families {
        let data = match f.kind {
            MetricType::Gauge | MetricType::Untyped => metric::Data::Gauge(Gauge {
                data_points: f
                    .samples
                    .iter()
                    .map(|s| gauge_point(attributes(s, target, ""), s.value, time(s)))
                    .collect(),
            }),
            MetricType::Counter => metric::Data::Sum(Sum {
                data_points: f
                    .samples
                    .iter()
                    .filter(|s| !s.name.ends_with("_created"))
                    .map(|s| {
                        let attrs = attributes(s, target, "");
                        let start = starts.start(&f.name, &attrs, s.value, now);
                        NumberDataPoint { start_time_unix_nano: start, ..gauge_point(attrs, s.value, time(s)) }
                    })
                    .collect(),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
            MetricType::Histogram => metric::Data::Histogram(Histogram {
                data_points: histogram_points(f, target, starts, now),
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
            MetricType::Summary => {
                metric::Data::Summary(Summary { data_points: summary_points(f, target, starts, now) })
            }
        };
        let name = match f.kind {
            _ if trim => trim_suffixes(&f.name, f.kind, &f.unit),
            MetricType::Counter => f.name.strip_suffix("_total").unwrap_or(&f.name).to_owned(),
            _ => f.name.clone(),
        };
        metrics.push(Metric {
            name,
            description: f.help.clone(),
            unit: f.unit.clone(),
            data: Some(data),
            ..Default::default()
        });
    }
    metrics.extend(extra);
    let (host, port) = target.instance.rsplit_once(':').unwrap_or((target.instance, ""));
    ResourceMetrics {
        resource: Some(Resource {
            attributes: vec![
                kv("service.name", target.job),
                kv("service.instance.id", target.instance),
                kv("server.address", host),
                kv("server.port", port),
                kv("url.scheme", target.scheme),
            ],
            ..Default::default()
        }),
        scope_metrics: vec![ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "otelstack/receiver/prometheus".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            metrics,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// Groups a family's samples by their labels without `drop` (le or quantile).
fn groups<'a>(f: &'a Family, drop: &str) -> BTreeMap<Vec<(String, String)>, Vec<&'a Sample>> {
    let mut out: BTreeMap<Vec<(String, String)>, Vec<&Sample>> = BTreeMap::new();
    for s in &f.samples {
        let key = s.labels.iter().filter(|(k, _)| *k != drop).map(|(k, v)| (k.clone(), v.clone())).collect();
        out.entry(key).or_default().push(s);
    }
    out
}

fn histogram_points(f: &Family, target: &Target, starts: &mut StartTimes, now: u64) -> Vec<HistogramDataPoint> {
    let mut points = Vec::new();
    for samples in groups(f, "le").values() {
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        let (mut sum, mut count, mut time) = (None, 0.0, now);
        for s in samples {
            time = s.timestamp_ms.map_or(now, |ms| ms as u64 * 1_000_000);
            if s.name.ends_with("_bucket") {
                if let Some(le) = s.labels.get("le").and_then(|le| le.parse::<f64>().ok()) {
                    buckets.push((le, s.value));
                }
            } else if s.name.ends_with("_sum") {
                sum = Some(s.value);
            } else if s.name.ends_with("_count") {
                count = s.value;
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let bounds: Vec<f64> = buckets.iter().map(|b| b.0).filter(|b| b.is_finite()).collect();
        let mut counts = Vec::with_capacity(buckets.len() + 1);
        let mut previous = 0.0;
        for (le, cumulative) in &buckets {
            if le.is_finite() {
                counts.push((cumulative - previous).max(0.0) as u64);
                previous = *cumulative;
            }
        }
        counts.push((count - previous).max(0.0) as u64);
        let attrs = attributes(samples[0], target, "le");
        let start = starts.start(&f.name, &attrs, count, now);
        points.push(HistogramDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: time,
            count: count as u64,
            sum,
            bucket_counts: counts,
            explicit_bounds: bounds,
            ..Default::default()
        });
    }
    points
}

fn summary_points(f: &Family, target: &Target, starts: &mut StartTimes, now: u64) -> Vec<SummaryDataPoint> {
    let mut points = Vec::new();
    for samples in groups(f, "quantile").values() {
        let (mut sum, mut count, mut quantiles, mut time) = (0.0, 0.0, Vec::new(), now);
        for s in samples {
            time = s.timestamp_ms.map_or(now, |ms| ms as u64 * 1_000_000);
            if let Some(q) = s.labels.get("quantile").and_then(|q| q.parse::<f64>().ok()) {
                quantiles.push(summary_data_point::ValueAtQuantile { quantile: q, value: s.value });
            } else if s.name.ends_with("_sum") {
                sum = s.value;
            } else if s.name.ends_with("_count") {
                count = s.value;
            }
        }
        let attrs = attributes(samples[0], target, "quantile");
        let start = starts.start(&f.name, &attrs, count, now);
        points.push(SummaryDataPoint {
            attributes: attrs,
            start_time_unix_nano: start,
            time_unix_nano: time,
            count: count as u64,
            sum,
            quantile_values: quantiles,
            ..Default::default()
        });
    }
    points
}

/// A synthetic gauge such as `up` or `scrape_duration_seconds`.
pub fn synthetic(name: &str, unit: &str, value: f64, now: u64) -> Metric {
    Metric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Gauge(Gauge { data_points: vec![gauge_point(Vec::new(), value, now)] })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Target = Target { job: "j", instance: "h:9100", scheme: "http" };

    fn names(text: &str, trim: bool) -> Vec<String> {
        let families = super::super::parse::parse(text).unwrap();
        let rm = to_otlp(&families, &TARGET, &mut StartTimes::default(), 1, Vec::new(), trim);
        rm.scope_metrics[0].metrics.iter().map(|m| m.name.clone()).collect()
    }

    fn starts(rm: &ResourceMetrics) -> Vec<u64> {
        rm.scope_metrics[0]
            .metrics
            .iter()
            .filter_map(|m| match m.data.as_ref()? {
                metric::Data::Sum(s) => Some(s.data_points[0].start_time_unix_nano),
                metric::Data::Histogram(h) => Some(h.data_points[0].start_time_unix_nano),
                metric::Data::Summary(s) => Some(s.data_points[0].start_time_unix_nano),
                metric::Data::Gauge(_) => None,
                _ => None,
            })
            .collect()
    }

    #[test]
    fn trims_type_and_unit_suffixes_as_otelcol() {
        assert_eq!(trim_suffixes("http_requests_total", MetricType::Counter, ""), "http_requests");
        assert_eq!(trim_suffixes("rpc_duration_seconds_total", MetricType::Counter, "seconds"), "rpc_duration");
        assert_eq!(trim_suffixes("rpc_duration_seconds", MetricType::Histogram, "seconds"), "rpc_duration");
        // a gauge keeps `_total`; a unit only goes when the name ends with all its tokens
        assert_eq!(trim_suffixes("queue_total", MetricType::Gauge, ""), "queue_total");
        assert_eq!(trim_suffixes("size_bytes", MetricType::Gauge, "kilo_bytes"), "size_bytes");
        assert_eq!(trim_suffixes("mem_kilo_bytes", MetricType::Gauge, "kilo_bytes"), "mem");
        // a name that is only its suffix stays
        assert_eq!(trim_suffixes("seconds", MetricType::Gauge, "seconds"), "seconds");
    }

    #[test]
    fn trim_metric_suffixes_renames_families_with_a_unit() {
        let text = "# TYPE a_seconds histogram\n# UNIT a_seconds seconds\na_seconds_bucket{le=\"+Inf\"} 1\n\
                    a_seconds_sum 2\na_seconds_count 1\n# TYPE b_total counter\nb_total 3\n";
        assert_eq!(names(text, false), ["a_seconds", "b"]);
        assert_eq!(names(text, true), ["a", "b"]);
    }

    #[test]
    fn use_start_time_metric_sets_every_cumulative_start() {
        let text = "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1700000000.5\n\
                    # TYPE c_total counter\nc_total 3\n# TYPE s summary\ns_sum 1\ns_count 2\n\
                    # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n";
        let families = super::super::parse::parse(text).unwrap();
        let re = regex::Regex::new(super::super::config::START_TIME_METRIC).unwrap();
        let mut st = StartTimes::default();
        st.use_process_start(&families, &re).unwrap();
        let rm = to_otlp(&families, &TARGET, &mut st, 5_000_000_000_000_000_000, Vec::new(), false);
        assert_eq!(starts(&rm), [1_700_000_000_500_000_000; 3]);
        // without the metric: first sight, and the caller is told
        let mut st = StartTimes::default();
        let missing = super::super::parse::parse("# TYPE c_total counter\nc_total 3\n").unwrap();
        assert!(st.use_process_start(&missing, &re).unwrap_err().contains("process_start_time_seconds"));
        let rm = to_otlp(&missing, &TARGET, &mut st, 42, Vec::new(), false);
        assert_eq!(starts(&rm), [42]);
    }
}
