//! Builders for the OTLP metrics the scrapers emit: cumulative sums (with
//! their start time) and gauges, int or double, with string attributes.

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Metric, NumberDataPoint, Sum,
};

/// A data point's value: otelcol's metadata says int or double per metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int(i64),
    Double(f64),
}

/// One data point before it knows its timestamps.
pub struct Point<'a> {
    pub attrs: Vec<(&'static str, &'a str)>,
    pub value: Num,
}

pub fn int<'a>(attrs: Vec<(&'static str, &'a str)>, v: u64) -> Point<'a> {
    Point { attrs, value: Num::Int(v.min(i64::MAX as u64) as i64) }
}

pub fn double<'a>(attrs: Vec<(&'static str, &'a str)>, v: f64) -> Point<'a> {
    Point { attrs, value: Num::Double(v) }
}

/// When the points were taken and, for sums, since when they count.
#[derive(Debug, Clone, Copy)]
pub struct Times {
    pub start: u64,
    pub now: u64,
}

fn points(points: Vec<Point>, t: Times, with_start: bool) -> Vec<NumberDataPoint> {
    points
        .into_iter()
        .map(|p| NumberDataPoint {
            attributes: p
                .attrs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).to_owned(),
                    value: Some(AnyValue { value: Some(V::StringValue((*v).to_owned())) }),
                    ..Default::default()
                })
                .collect(),
            start_time_unix_nano: if with_start { t.start } else { 0 },
            time_unix_nano: t.now,
            value: Some(match p.value {
                Num::Int(i) => number_data_point::Value::AsInt(i),
                Num::Double(d) => number_data_point::Value::AsDouble(d),
            }),
            ..Default::default()
        })
        .collect()
}

/// A cumulative sum.
pub fn sum(name: &str, description: &str, unit: &str, monotonic: bool, t: Times, data: Vec<Point>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points(data, t, true),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: monotonic,
        })),
        ..Default::default()
    }
}

pub fn gauge(name: &str, description: &str, unit: &str, t: Times, data: Vec<Point>) -> Metric {
    Metric {
        name: name.to_owned(),
        description: description.to_owned(),
        unit: unit.to_owned(),
        data: Some(metric::Data::Gauge(Gauge { data_points: points(data, t, false) })),
        ..Default::default()
    }
}
