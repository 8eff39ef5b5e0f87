//! Decoded OTLP data and the one trait that makes processors signal-generic:
//! [`ResourceData`] exposes a resource, its scopes, and each item's attributes
//! the same way for spans, metric data points and log records.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

/// The decoded form is defined with the batch that carries it; it is named
/// here too because this module is where code that works on it looks.
pub use crate::signal::Decoded;
use crate::signal::{data_point_count, each_signal, Batch, BatchError};

impl Decoded {
    /// Calls `f` with each resource (created empty where missing).
    pub fn for_each_resource(&mut self, f: &mut dyn FnMut(&mut Resource)) {
        each_signal!(self, v => for r in v.iter_mut() { f(r.resource_mut()) })
    }

    /// Calls `f` with each item's attributes: span, data point or log record.
    pub fn for_each_item_attributes(&mut self, f: &mut dyn FnMut(&mut Vec<KeyValue>)) {
        each_signal!(self, v => for r in v.iter_mut() { r.for_each_item_attributes(f) })
    }
}

/// A `Resource{Spans,Metrics,Logs}` entry.
pub trait ResourceData: Message + Clone + Default {
    type Scope: ScopeData;
    fn resource_mut(&mut self) -> &mut Resource;
    fn scopes_mut(&mut self) -> &mut Vec<Self::Scope>;
    fn for_each_item_attributes(&mut self, f: &mut dyn FnMut(&mut Vec<KeyValue>));
}

/// A `Scope{Spans,Metrics,Logs}` entry.
pub trait ScopeData: Clone {
    type Item: Item;
    fn items_mut(&mut self) -> &mut Vec<Self::Item>;
}

/// A span, a metric (whose size is its data point count) or a log record.
pub trait Item: Clone {
    fn size(&self) -> usize {
        1
    }
    /// Moves the first `n` units (data points) into a new item; only called
    /// with `0 < n < self.size()`.
    fn take_front(&mut self, n: usize) -> Self {
        let _ = n;
        unreachable!("single-unit items are never split")
    }
}

macro_rules! resource_data {
    ($res:ty, $scope:ty, $scopes:ident, $item:ty, $items:ident, $attrs:expr) => {
        impl ResourceData for $res {
            type Scope = $scope;
            fn resource_mut(&mut self) -> &mut Resource {
                self.resource.get_or_insert_with(Resource::default)
            }
            fn scopes_mut(&mut self) -> &mut Vec<$scope> {
                &mut self.$scopes
            }
            fn for_each_item_attributes(&mut self, f: &mut dyn FnMut(&mut Vec<KeyValue>)) {
                for scope in &mut self.$scopes {
                    for item in &mut scope.$items {
                        ($attrs)(item, &mut *f)
                    }
                }
            }
        }
        impl ScopeData for $scope {
            type Item = $item;
            fn items_mut(&mut self) -> &mut Vec<$item> {
                &mut self.$items
            }
        }
    };
}

use opentelemetry_proto::tonic::logs::v1::{LogRecord, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::ScopeMetrics;
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

resource_data!(
    ResourceSpans,
    ScopeSpans,
    scope_spans,
    Span,
    spans,
    |s: &mut Span, f: &mut dyn FnMut(&mut Vec<KeyValue>)| f(&mut s.attributes)
);
resource_data!(
    ResourceLogs,
    ScopeLogs,
    scope_logs,
    LogRecord,
    log_records,
    |l: &mut LogRecord, f: &mut dyn FnMut(&mut Vec<KeyValue>)| f(&mut l.attributes)
);
resource_data!(ResourceMetrics, ScopeMetrics, scope_metrics, Metric, metrics, metric_attributes);

impl Item for Span {}
impl Item for LogRecord {}

/// Calls `f` with the attributes of each of the metric's data points.
pub fn metric_attributes(m: &mut Metric, f: &mut dyn FnMut(&mut Vec<KeyValue>)) {
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Sum(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Histogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        Some(metric::Data::Summary(s)) => s.data_points.iter_mut().for_each(|p| f(&mut p.attributes)),
        None => {}
    }
}

/// Moves the first `n` elements of `v` into a new vector.
fn take_front<T>(v: &mut Vec<T>, n: usize) -> Vec<T> {
    let rest = v.split_off(n);
    std::mem::replace(v, rest)
}

impl Item for Metric {
    fn size(&self) -> usize {
        data_point_count(self)
    }

    fn take_front(&mut self, n: usize) -> Self {
        let mut front = Metric { data: None, ..self.clone_without_data() };
        front.data = match &mut self.data {
            Some(metric::Data::Gauge(g)) => Some(metric::Data::Gauge(metric_gauge(take_front(&mut g.data_points, n)))),
            Some(metric::Data::Sum(s)) => Some(metric::Data::Sum(opentelemetry_proto::tonic::metrics::v1::Sum {
                data_points: take_front(&mut s.data_points, n),
                ..*s
            })),
            Some(metric::Data::Histogram(h)) => {
                Some(metric::Data::Histogram(opentelemetry_proto::tonic::metrics::v1::Histogram {
                    data_points: take_front(&mut h.data_points, n),
                    aggregation_temporality: h.aggregation_temporality,
                }))
            }
            Some(metric::Data::ExponentialHistogram(h)) => Some(metric::Data::ExponentialHistogram(
                opentelemetry_proto::tonic::metrics::v1::ExponentialHistogram {
                    data_points: take_front(&mut h.data_points, n),
                    aggregation_temporality: h.aggregation_temporality,
                },
            )),
            Some(metric::Data::Summary(s)) => {
                Some(metric::Data::Summary(opentelemetry_proto::tonic::metrics::v1::Summary {
                    data_points: take_front(&mut s.data_points, n),
                }))
            }
            None => None,
        };
        front
    }
}

fn metric_gauge(
    data_points: Vec<opentelemetry_proto::tonic::metrics::v1::NumberDataPoint>,
) -> opentelemetry_proto::tonic::metrics::v1::Gauge {
    opentelemetry_proto::tonic::metrics::v1::Gauge { data_points }
}

trait CloneWithoutData {
    fn clone_without_data(&self) -> Self;
}
impl CloneWithoutData for Metric {
    fn clone_without_data(&self) -> Self {
        Metric {
            name: self.name.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            metadata: self.metadata.clone(),
            data: None,
        }
    }
}

impl Batch {
    /// Splits into batches of at most `max` items, preserving order; splits
    /// inside a resource or scope (and a metric's data points) when needed.
    pub fn split(self, max: usize) -> Result<Vec<Batch>, BatchError> {
        if max == 0 || self.items() <= max {
            return Ok(vec![self]);
        }
        let mut this = self;
        let signal = this.signal();
        let decoded = std::mem::replace(this.decoded_mut()?, Decoded::empty(signal));
        Ok(split(decoded, max).into_iter().map(Batch::from_decoded).collect())
    }
}

/// Splits decoded data into chunks of at most `max` items each.
pub fn split(decoded: Decoded, max: usize) -> Vec<Decoded> {
    match decoded {
        Decoded::Traces(v) => split_resources(v, max).into_iter().map(Decoded::Traces).collect(),
        Decoded::Metrics(v) => split_resources(v, max).into_iter().map(Decoded::Metrics).collect(),
        Decoded::Logs(v) => split_resources(v, max).into_iter().map(Decoded::Logs).collect(),
    }
}

fn split_resources<R: ResourceData>(resources: Vec<R>, max: usize) -> Vec<Vec<R>> {
    let mut chunks: Vec<Vec<R>> = Vec::new();
    let mut current: Vec<R> = Vec::new();
    let mut room = max;
    for mut res in resources {
        let scopes = std::mem::take(res.scopes_mut());
        let mut res_out = res.clone();
        for mut scope in scopes {
            let items = std::mem::take(scope.items_mut());
            let mut scope_out = scope.clone();
            for mut item in items {
                while item.size() > room {
                    if room > 0 {
                        scope_out.items_mut().push(item.take_front(room));
                    }
                    flush(&mut current, &mut res_out, &mut scope_out, &res, &scope, &mut chunks);
                    room = max;
                }
                room -= item.size();
                scope_out.items_mut().push(item);
                if room == 0 {
                    flush(&mut current, &mut res_out, &mut scope_out, &res, &scope, &mut chunks);
                    room = max;
                }
            }
            if !scope_out.items_mut().is_empty() {
                res_out.scopes_mut().push(scope_out);
            }
        }
        if !res_out.scopes_mut().is_empty() {
            current.push(res_out);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Closes the chunk being filled and starts a new one with empty copies of
/// the resource and scope currently being walked.
fn flush<R: ResourceData>(
    current: &mut Vec<R>,
    res_out: &mut R,
    scope_out: &mut R::Scope,
    res: &R,
    scope: &R::Scope,
    chunks: &mut Vec<Vec<R>>,
) {
    if !scope_out.items_mut().is_empty() {
        res_out.scopes_mut().push(std::mem::replace(scope_out, scope.clone()));
    }
    if !res_out.scopes_mut().is_empty() {
        current.push(std::mem::replace(res_out, res.clone()));
    }
    if !current.is_empty() {
        chunks.push(std::mem::take(current));
    }
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
