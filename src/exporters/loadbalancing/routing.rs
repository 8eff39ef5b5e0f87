//! Splitting a batch by routing key: every item goes to the backend that
//! owns its key on the ring, so one trace (or service, resource, metric,
//! stream) always lands on one backend, however its items were batched.

use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::config::RoutingKey;
use crate::otlp::data::{Decoded, ResourceData, ScopeData};

/// Splits `decoded` into one part per backend (`n` of them); `owner` maps
/// a key to a backend index. Empty parts are left out.
pub fn split(decoded: Decoded, key: RoutingKey, n: usize, owner: &dyn Fn(&[u8]) -> usize) -> Vec<(usize, Decoded)> {
    let parts: Vec<Decoded> = match decoded {
        Decoded::Traces(v) => {
            by_key(v, key, n, owner, |_, s| s.trace_id.clone()).into_iter().map(Decoded::Traces).collect()
        }
        Decoded::Logs(v) => {
            by_key(v, key, n, owner, |_, l| l.trace_id.clone()).into_iter().map(Decoded::Logs).collect()
        }
        Decoded::Metrics(mut v) => {
            if key == RoutingKey::StreamId {
                split_streams(&mut v, owner);
            }
            by_key(v, key, n, owner, metric_item_key).into_iter().map(Decoded::Metrics).collect()
        }
    };
    parts.into_iter().enumerate().filter(|(_, d)| !d.is_empty()).collect()
}

/// Per-item keys for the item-level routing keys; resource-level keys route
/// each resource entry whole.
fn by_key<R: ResourceData>(
    resources: Vec<R>,
    key: RoutingKey,
    n: usize,
    owner: &dyn Fn(&[u8]) -> usize,
    item_key: impl Fn(&[u8], &<R::Scope as ScopeData>::Item) -> Vec<u8>,
) -> Vec<Vec<R>> {
    let mut out: Vec<Vec<R>> = (0..n).map(|_| Vec::new()).collect();
    for mut r in resources {
        let resource = r.resource_mut();
        let whole = match key {
            RoutingKey::Service => Some(service_name(resource).into_bytes()),
            RoutingKey::Resource => Some(resource_identity(resource)),
            RoutingKey::TraceId | RoutingKey::Metric | RoutingKey::StreamId => None,
        };
        if let Some(k) = whole {
            out[owner(&k)].push(r);
            continue;
        }
        let prefix = if key == RoutingKey::StreamId { stream_prefix(resource) } else { Vec::new() };
        let scopes = std::mem::take(r.scopes_mut());
        let mut per: Vec<Option<R>> = (0..n).map(|_| None).collect();
        for mut scope in scopes {
            let items = std::mem::take(scope.items_mut());
            let mut groups: Vec<Vec<_>> = (0..n).map(|_| Vec::new()).collect();
            for item in items {
                groups[owner(&item_key(&prefix, &item))].push(item);
            }
            for (i, group) in groups.into_iter().enumerate().filter(|(_, g)| !g.is_empty()) {
                let mut part = scope.clone();
                *part.items_mut() = group;
                per[i].get_or_insert_with(|| r.clone()).scopes_mut().push(part);
            }
        }
        for (i, part) in per.into_iter().enumerate() {
            out[i].extend(part);
        }
    }
    out
}

/// `service.name` of a resource; resources without one share the empty key
/// (upstream drops them; here they stay together on one backend).
pub fn service_name(resource: &Resource) -> String {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            any_value::Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}

/// A resource's identity: its attributes in key order, each encoded.
pub fn resource_identity(resource: &Resource) -> Vec<u8> {
    attributes_identity(&resource.attributes)
}

/// The start of a stream's key; never empty, which tells `streamID` items
/// from `metric` ones.
fn stream_prefix(resource: &Resource) -> Vec<u8> {
    let mut key = vec![b'r'];
    key.extend(resource_identity(resource));
    key
}

fn attributes_identity(attributes: &[KeyValue]) -> Vec<u8> {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::new();
    for kv in sorted {
        out.extend_from_slice(kv.key.as_bytes());
        out.push(0);
        if let Some(v) = &kv.value {
            v.encode(&mut out).expect("a Vec grows");
        }
        out.push(0xff);
    }
    out
}

/// `metric` routes by the metric's name; `streamID` by the stream (the
/// metric was already cut to one stream's owner, so its first point's
/// stream decides).
fn metric_item_key(resource: &[u8], m: &Metric) -> Vec<u8> {
    if resource.is_empty() {
        return m.name.as_bytes().to_vec();
    }
    stream_key(resource, &m.name, &m.unit, kind(&m.data), first_point_attributes(m))
}

fn kind(data: &Option<metric::Data>) -> u8 {
    match data {
        Some(metric::Data::Gauge(_)) => 1,
        Some(metric::Data::Sum(_)) => 2,
        Some(metric::Data::Histogram(_)) => 3,
        Some(metric::Data::ExponentialHistogram(_)) => 4,
        Some(metric::Data::Summary(_)) => 5,
        None => 0,
    }
}

/// A stream: resource, metric name, unit and kind, and the point's attributes.
fn stream_key(resource: &[u8], name: &str, unit: &str, kind: u8, point: &[KeyValue]) -> Vec<u8> {
    let mut key = resource.to_vec();
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(unit.as_bytes());
    key.push(0);
    key.push(kind);
    key.extend(attributes_identity(point));
    key
}

fn first_point_attributes(m: &Metric) -> &[KeyValue] {
    match &m.data {
        Some(metric::Data::Gauge(d)) => d.data_points.first().map(|p| p.attributes.as_slice()),
        Some(metric::Data::Sum(d)) => d.data_points.first().map(|p| p.attributes.as_slice()),
        Some(metric::Data::Histogram(d)) => d.data_points.first().map(|p| p.attributes.as_slice()),
        Some(metric::Data::ExponentialHistogram(d)) => d.data_points.first().map(|p| p.attributes.as_slice()),
        Some(metric::Data::Summary(d)) => d.data_points.first().map(|p| p.attributes.as_slice()),
        None => None,
    }
    .unwrap_or_default()
}

/// Groups points by owner, keeping their order within each group.
fn group<P>(points: Vec<P>, owner_of: impl Fn(&P) -> usize) -> Vec<(usize, Vec<P>)> {
    let mut groups: Vec<(usize, Vec<P>)> = Vec::new();
    for p in points {
        let i = owner_of(&p);
        match groups.iter_mut().find(|(o, _)| *o == i) {
            Some((_, g)) => g.push(p),
            None => groups.push((i, vec![p])),
        }
    }
    groups
}

/// Cuts every metric whose data points belong to several backends into one
/// metric per backend, so that routing a whole metric routes each stream.
fn split_streams(resources: &mut [ResourceMetrics], owner: &dyn Fn(&[u8]) -> usize) {
    for r in resources {
        let resource = stream_prefix(r.resource.as_ref().unwrap_or(&Resource::default()));
        for scope in &mut r.scope_metrics {
            let mut out = Vec::with_capacity(scope.metrics.len());
            for mut m in std::mem::take(&mut scope.metrics) {
                let data = m.data.take();
                let k = kind(&data);
                let key_of = |attrs: &[KeyValue]| owner(&stream_key(&resource, &m.name, &m.unit, k, attrs));
                macro_rules! cut {
                    ($d:expr, $variant:ident) => {{
                        let mut d = $d;
                        let points = std::mem::take(&mut d.data_points);
                        for (_, pts) in group(points, |p| key_of(&p.attributes)) {
                            let mut part = d.clone();
                            part.data_points = pts;
                            out.push(Metric { data: Some(metric::Data::$variant(part)), ..m.clone() });
                        }
                    }};
                }
                match data {
                    Some(metric::Data::Gauge(d)) => cut!(d, Gauge),
                    Some(metric::Data::Sum(d)) => cut!(d, Sum),
                    Some(metric::Data::Histogram(d)) => cut!(d, Histogram),
                    Some(metric::Data::ExponentialHistogram(d)) => cut!(d, ExponentialHistogram),
                    Some(metric::Data::Summary(d)) => cut!(d, Summary),
                    None => out.push(m),
                }
            }
            scope.metrics = out;
        }
    }
}
