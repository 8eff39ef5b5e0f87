//! Zipkin v2 spans to OTLP, as otelcol-contrib's
//! `pkg/translator/zipkin/zipkinv2/to_translator.go`: one resource per local
//! service, one scope per instrumentation library, tags to attributes with
//! the OTel keys pulled out (status, kind, trace state, links, scope, resource),
//! endpoints to `net.*`/`peer.service`, annotations to events, µs to ns.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::model::{self, Kind};

/// Set when Zipkin sent no start time (upstream's key).
pub const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
/// A tag naming the resource key the local service name goes to.
const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
/// Upstream's resource name when a span has no local service.
const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// Tags that belong to the resource, never to a span: otelcol's semantic
/// conventions 1.6.1 resource attributes and the OpenCensus leftovers.
fn is_resource_key(key: &str) -> bool {
    const PREFIXES: [&str; 11] = [
        "service.",
        "telemetry.",
        "host.",
        "os.",
        "process.",
        "container.",
        "k8s.",
        "cloud.",
        "device.",
        "webengine.",
        "aws.ecs.",
    ];
    const KEYS: [&str; 16] = [
        "deployment.environment",
        "faas.name",
        "faas.id",
        "faas.version",
        "faas.instance",
        "faas.max_memory",
        "aws.eks.cluster.arn",
        "aws.log.group.names",
        "aws.log.group.arns",
        "aws.log.stream.names",
        "aws.log.stream.arns",
        "opencensus.starttime",
        "opencensus.exporterversion",
        "opencensus.resourcetype",
        SERVICE_NAME_SOURCE,
        "process.pid",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}

/// Scope name and version tags: the current keys and upstream's older ones.
const SCOPE_KEYS: [&str; 4] = ["otel.scope.name", "otel.library.name", "otel.scope.version", "otel.library.version"];

fn service_of(s: &model::Span) -> &str {
    s.local_endpoint.as_ref().map(|e| e.service_name.as_str()).filter(|n| !n.is_empty()).unwrap_or(NO_SERVICE_NAME)
}

fn tag<'a>(s: &'a model::Span, keys: [&str; 2]) -> &'a str {
    keys.iter().find_map(|k| s.tags.get(*k)).map(String::as_str).unwrap_or("")
}

fn scope_of(s: &model::Span) -> &str {
    tag(s, ["otel.scope.name", "otel.library.name"])
}

pub fn to_otlp(mut spans: Vec<model::Span>, parse_string_tags: bool) -> Result<Vec<ResourceSpans>, String> {
    // stable, so spans keep their order within a (service, scope) group
    spans.sort_by(|a, b| (service_of(a), scope_of(a)).cmp(&(service_of(b), scope_of(b))));
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut current: Option<(String, String)> = None;
    for s in &spans {
        let (service, scope) = (service_of(s).to_owned(), scope_of(s).to_owned());
        if current.as_ref().map(|(svc, _)| svc) != Some(&service) {
            out.push(ResourceSpans { resource: Some(resource(s, &service)), ..Default::default() });
            current = None;
        }
        if current.as_ref() != Some(&(service.clone(), scope.clone())) {
            let version = tag(s, ["otel.scope.version", "otel.library.version"]);
            let scope_msg =
                InstrumentationScope { name: scope.clone(), version: version.to_owned(), ..Default::default() };
            let rs = out.last_mut().expect("a resource was pushed");
            rs.scope_spans.push(ScopeSpans { scope: Some(scope_msg), ..Default::default() });
            current = Some((service, scope));
        }
        let span = span(s, parse_string_tags)?;
        let rs = out.last_mut().expect("a resource was pushed");
        rs.scope_spans.last_mut().expect("a scope was pushed").spans.push(span);
    }
    Ok(out)
}

fn resource(s: &model::Span, service: &str) -> Resource {
    let mut attrs = Vec::new();
    if service != NO_SERVICE_NAME {
        let key = s.tags.get(SERVICE_NAME_SOURCE).filter(|k| !k.is_empty()).map_or("service.name", String::as_str);
        put(&mut attrs, key, Value::StringValue(service.to_owned()));
        for (k, v) in s.tags.iter().filter(|(k, _)| is_resource_key(k) && k.as_str() != SERVICE_NAME_SOURCE) {
            put(&mut attrs, k, Value::StringValue(v.clone()));
        }
    }
    Resource { attributes: attrs, ..Default::default() }
}

/// Sets `key`, replacing an earlier value (pcommon.Map's Put).
pub fn put(attrs: &mut Vec<KeyValue>, key: &str, v: Value) {
    let value = Some(AnyValue { value: Some(v) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = value,
        None => attrs.push(KeyValue { key: key.to_owned(), value, ..Default::default() }),
    }
}

/// A tag value as a typed attribute when `parse_string_tags` is on
/// (upstream's `DetermineValueType`: ints, doubles, bools; others stay strings).
pub fn tag_value(v: &str, parse_string_tags: bool) -> Value {
    if parse_string_tags {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let unsigned = v.strip_prefix('-').unwrap_or(v);
        if digits(unsigned) {
            if let Ok(i) = v.parse::<i64>() {
                return Value::IntValue(i);
            }
        }
        if let Some((a, b)) = unsigned.split_once('.') {
            if digits(a) && digits(b) {
                if let Ok(f) = v.parse::<f64>() {
                    return Value::DoubleValue(f);
                }
            }
        }
        if v == "true" || v == "false" {
            return Value::BoolValue(v == "true");
        }
    }
    Value::StringValue(v.to_owned())
}

/// `otel.status_code` as upstream's names (`STATUS_CODE_ERROR`) and as the
/// OTel Zipkin exporters write it (`ERROR`).
pub fn status_code_from_name(v: &str) -> Option<StatusCode> {
    match v.trim_start_matches("STATUS_CODE_") {
        "UNSET" => Some(StatusCode::Unset),
        "OK" => Some(StatusCode::Ok),
        "ERROR" => Some(StatusCode::Error),
        _ => None,
    }
}

fn span(s: &model::Span, parse_string_tags: bool) -> Result<Span, String> {
    let mut tags = s.tags.clone();
    let mut out = Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.id.to_vec(),
        parent_span_id: s.parent_id.filter(|p| *p != s.id).map(|p| p.to_vec()).unwrap_or_default(),
        trace_state: tags.remove("w3c.tracestate").unwrap_or_default(),
        name: s.name.clone(),
        ..Default::default()
    };
    out.kind = match s.kind {
        Some(Kind::Client) => SpanKind::Client,
        Some(Kind::Server) => SpanKind::Server,
        Some(Kind::Producer) => SpanKind::Producer,
        Some(Kind::Consumer) => SpanKind::Consumer,
        None => match tags.remove("span.kind").as_deref() {
            Some("internal") => SpanKind::Internal,
            _ => SpanKind::Unspecified,
        },
    } as i32;
    let mut status = Status::default();
    if let Some(code) = tags.remove("otel.status_code") {
        status.code = status_code_from_name(&code).unwrap_or(StatusCode::Unset) as i32;
        if let Some(message) = tags.remove("otel.status_description") {
            status.message = message;
        }
    }
    // the OTel Zipkin exporters put the error description in the `error` tag
    if let Some(err) = tags.remove("error") {
        status.code = StatusCode::Error as i32;
        if status.message.is_empty() && err != "true" {
            status.message = err;
        }
    }
    if status != Status::default() {
        out.status = Some(status);
    }
    out.links = links(&mut tags)?;
    for (k, v) in tags.iter().filter(|(k, _)| !is_resource_key(k) && !SCOPE_KEYS.contains(&k.as_str())) {
        put(&mut out.attributes, k, tag_value(v, parse_string_tags));
    }
    if let Some(local) = &s.local_endpoint {
        for ip in [&local.ipv4, &local.ipv6].into_iter().flatten() {
            put(&mut out.attributes, "net.host.ip", Value::StringValue(ip.clone()));
        }
        if local.port > 0 {
            put(&mut out.attributes, "net.host.port", Value::IntValue(local.port.into()));
        }
    }
    if let Some(remote) = &s.remote_endpoint {
        if !remote.service_name.is_empty() {
            put(&mut out.attributes, "peer.service", Value::StringValue(remote.service_name.clone()));
        }
        for ip in [&remote.ipv4, &remote.ipv6].into_iter().flatten() {
            put(&mut out.attributes, "net.peer.ip", Value::StringValue(ip.clone()));
        }
        if remote.port > 0 {
            put(&mut out.attributes, "net.peer.port", Value::IntValue(remote.port.into()));
        }
    }
    if s.timestamp == 0 {
        out.start_time_unix_nano = 0;
        out.end_time_unix_nano = s.duration.saturating_mul(1000);
        put(&mut out.attributes, START_TIME_ABSENT, Value::BoolValue(true));
    } else {
        out.start_time_unix_nano = s.timestamp.saturating_mul(1000);
        out.end_time_unix_nano = s.timestamp.saturating_add(s.duration).saturating_mul(1000);
    }
    for (ts, value) in &s.annotations {
        out.events.push(event(*ts, value)?);
    }
    Ok(out)
}

/// An annotation `name` or, as the OTel Zipkin exporters write events with
/// attributes, `name|{json attributes}|dropped count`.
fn event(ts: u64, value: &str) -> Result<Event, String> {
    let parts: Vec<&str> = value.split('|').collect();
    let mut ev = Event { time_unix_nano: ts.saturating_mul(1000), name: parts[0].to_owned(), ..Default::default() };
    if parts.len() < 3 {
        return Ok(ev);
    }
    let what = format!("annotation {value:?}");
    (ev.attributes, ev.dropped_attributes_count) = attributes_and_dropped(&parts[1..], &what)?;
    Ok(ev)
}

/// Links written by the OTel exporters as tags `otlp.link.0`, `otlp.link.1`,
/// ...: `traceId|spanId|traceState|{json attributes}|dropped count`;
/// shorter values are skipped, as upstream does.
fn links(tags: &mut std::collections::BTreeMap<String, String>) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    for i in 0..128 {
        let Some(value) = tags.remove(&format!("otlp.link.{i}")) else { break };
        let parts: Vec<&str> = value.split('|').collect();
        if parts.len() < 5 {
            continue;
        }
        let what = format!("tag otlp.link.{i}");
        let id = |s: &str, len: usize| -> Result<Vec<u8>, String> {
            let s = s.trim_matches('"');
            match const_hex::decode(s) {
                Ok(b) if b.len() == len || b.is_empty() => Ok(b),
                _ => Err(format!("{what}: {s:?} is not a {}-byte hex id", len)),
            }
        };
        let (attributes, dropped_attributes_count) = attributes_and_dropped(&parts[3..], &what)?;
        links.push(Link {
            trace_id: id(parts[0], 16)?,
            span_id: id(parts[1], 8)?,
            trace_state: parts[2].to_owned(),
            attributes,
            dropped_attributes_count,
            ..Default::default()
        });
    }
    Ok(links)
}

/// `{json attributes}|dropped count` (the JSON may itself hold `|`).
fn attributes_and_dropped(parts: &[&str], what: &str) -> Result<(Vec<KeyValue>, u32), String> {
    let json = parts[..parts.len() - 1].join("|");
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&json).map_err(|e| format!("{what}: attributes are not a JSON object: {e}"))?;
    let mut attrs = Vec::new();
    for (k, v) in map {
        let v = match v {
            serde_json::Value::String(s) => Value::StringValue(s),
            serde_json::Value::Bool(b) => Value::BoolValue(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::IntValue(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 => Value::IntValue(f as i64),
                    Some(f) => Value::DoubleValue(f),
                    None => continue,
                },
            },
            _ => continue,
        };
        put(&mut attrs, &k, v);
    }
    let dropped =
        parts[parts.len() - 1].parse().map_err(|_| format!("{what}: the dropped attributes count is not a number"))?;
    Ok((attrs, dropped))
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
