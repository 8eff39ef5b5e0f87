//! OTLP spans to Jaeger's model, as otelcol-contrib's
//! `pkg/translator/jaeger/traces_to_jaegerproto.go` (`ProtoFromTraces`) does
//! it: one `Batch` per resource, the resource as the `Process` (service name
//! from `service.name`, the other attributes as tags), and per span the scope
//! (`otel.scope.name`/`otel.scope.version`), attributes, `span.kind`,
//! `otel.status_code`, `error=true`, `otel.status_description` and
//! `w3c.tracestate` as tags, events as logs, parent and links as references.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue as OtlpKeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, Span as OtlpSpan};

use super::model::{Batch, KeyValue, Log, Process, Span, SpanRef, SpanRefType, Time, ValueType};
use crate::otlp::pdata;

/// The service name upstream gives a resource without attributes.
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
const SERVICE_NAME: &str = "service.name";
/// semconv `opentracing.ref_type`: a link with `child_of` becomes CHILD_OF
const REF_TYPE: &str = "opentracing.ref_type";

/// One batch per resource; a resource without attributes and scopes gives none.
pub fn batches(resources: &[ResourceSpans]) -> Vec<Batch> {
    resources.iter().filter_map(batch).collect()
}

fn batch(rs: &ResourceSpans) -> Option<Batch> {
    let attrs = rs.resource.as_ref().map_or(&[][..], |r: &Resource| &r.attributes);
    if attrs.is_empty() && rs.scope_spans.is_empty() {
        return None;
    }
    let spans = rs
        .scope_spans
        .iter()
        .flat_map(|ss| ss.spans.iter().map(move |s| span_to_jaeger(s, ss.scope.as_ref())))
        .collect();
    Some(Batch { process: Some(process(attrs)), spans })
}

pub fn process(attrs: &[OtlpKeyValue]) -> Process {
    if attrs.is_empty() {
        return Process { service_name: NO_SERVICE_NAME.into(), tags: Vec::new() };
    }
    let service_name = attrs
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .map(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Kind::StringValue(s)) => s.clone(),
            _ => String::new(),
        })
        .unwrap_or_default();
    let tags = attrs.iter().filter(|kv| kv.key != SERVICE_NAME).map(tag).collect();
    Process { service_name, tags }
}

/// `attributeToJaegerProtoTag`: typed values keep their type, maps and
/// slices become JSON strings, an empty value an empty string.
pub fn tag(kv: &OtlpKeyValue) -> KeyValue {
    let mut t = KeyValue { key: kv.key.clone(), ..Default::default() };
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Kind::StringValue(s)) => t.v_str = s.clone(),
        Some(Kind::IntValue(i)) => (t.v_type, t.v_int64) = (ValueType::Int64 as i32, *i),
        Some(Kind::BoolValue(b)) => (t.v_type, t.v_bool) = (ValueType::Bool as i32, *b),
        Some(Kind::DoubleValue(d)) => (t.v_type, t.v_float64) = (ValueType::Float64 as i32, *d),
        Some(Kind::BytesValue(b)) => (t.v_type, t.v_binary) = (ValueType::Binary as i32, b.clone()),
        Some(v @ (Kind::ArrayValue(_) | Kind::KvlistValue(_))) => {
            t.v_str = pdata::as_string(&AnyValue { value: Some(v.clone()) })
        }
        Some(Kind::StringValueStrindex(_)) | None => {}
    }
    t
}

fn fixed<const N: usize>(id: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; N];
    let n = id.len().min(N);
    out[N - n..].copy_from_slice(&id[id.len() - n..]);
    out
}

fn is_zero(id: &[u8]) -> bool {
    id.iter().all(|b| *b == 0)
}

pub fn span_to_jaeger(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Span {
    let trace_id = fixed::<16>(&s.trace_id);
    let start = s.start_time_unix_nano as i64;
    Span {
        references: references(s, &trace_id),
        trace_id,
        span_id: fixed::<8>(&s.span_id),
        operation_name: s.name.clone(),
        start_time: Some(Time::from_nanos(start)),
        duration: Some(Time::from_nanos((s.end_time_unix_nano as i64).wrapping_sub(start))),
        tags: tags(s, scope),
        logs: s.events.iter().map(log).collect(),
        ..Default::default()
    }
}

/// The parent first (as CHILD_OF, where backends look for it), then the
/// links: FOLLOWS_FROM unless the link says `opentracing.ref_type=child_of`;
/// a link to the parent itself only sets the parent reference's type.
fn references(s: &OtlpSpan, trace_id: &[u8]) -> Vec<SpanRef> {
    let parent = (!is_zero(&s.parent_span_id)).then(|| fixed::<8>(&s.parent_span_id));
    let mut refs = Vec::with_capacity(s.links.len() + 1);
    if let Some(p) = &parent {
        refs.push(SpanRef { trace_id: trace_id.to_vec(), span_id: p.clone(), ref_type: SpanRefType::ChildOf as i32 });
    }
    for link in &s.links {
        let ref_type = match link.attributes.iter().find(|kv| kv.key == REF_TYPE).map(|kv| &kv.value) {
            Some(Some(AnyValue { value: Some(Kind::StringValue(v)) })) if v == "child_of" => SpanRefType::ChildOf,
            _ => SpanRefType::FollowsFrom,
        } as i32;
        let (link_trace, link_span) = (fixed::<16>(&link.trace_id), fixed::<8>(&link.span_id));
        if parent.as_ref() == Some(&link_span) && link_trace == trace_id {
            refs[0].ref_type = ref_type;
            continue;
        }
        refs.push(SpanRef { trace_id: link_trace, span_id: link_span, ref_type });
    }
    refs
}

fn tags(s: &OtlpSpan, scope: Option<&InstrumentationScope>) -> Vec<KeyValue> {
    let mut tags = Vec::with_capacity(s.attributes.len() + 6);
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            tags.push(KeyValue::str("otel.scope.name", &scope.name));
        }
        if !scope.version.is_empty() {
            tags.push(KeyValue::str("otel.scope.version", &scope.version));
        }
    }
    tags.extend(s.attributes.iter().map(tag));
    if let Some(kind) = span_kind(s.kind) {
        tags.push(KeyValue::str("span.kind", kind));
    }
    let (code, message) = s.status.as_ref().map_or((0, ""), |st| (st.code, st.message.as_str()));
    if code == status::StatusCode::Error as i32 {
        tags.push(KeyValue::str("otel.status_code", "ERROR"));
        tags.push(KeyValue::bool("error", true));
    } else if code == status::StatusCode::Ok as i32 {
        tags.push(KeyValue::str("otel.status_code", "OK"));
    }
    if !message.is_empty() {
        tags.push(KeyValue::str("otel.status_description", message));
    }
    if !s.trace_state.is_empty() {
        tags.push(KeyValue::str("w3c.tracestate", &s.trace_state));
    }
    tags
}

/// OpenTracing's span.kind values; unspecified gives no tag.
pub fn span_kind(kind: i32) -> Option<&'static str> {
    use span::SpanKind::*;
    Some(match span::SpanKind::try_from(kind).ok()? {
        Client => "client",
        Server => "server",
        Producer => "producer",
        Consumer => "consumer",
        Internal => "internal",
        Unspecified => return None,
    })
}

/// An event as a log: its name under `event` (unless an attribute already
/// says `event`), then its attributes.
fn log(e: &opentelemetry_proto::tonic::trace::v1::span::Event) -> Log {
    let mut fields = Vec::with_capacity(e.attributes.len() + 1);
    if !e.name.is_empty() && !e.attributes.iter().any(|kv| kv.key == "event") {
        fields.push(KeyValue::str("event", &e.name));
    }
    fields.extend(e.attributes.iter().map(tag));
    Log { timestamp: Some(Time::from_nanos(e.time_unix_nano as i64)), fields }
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
