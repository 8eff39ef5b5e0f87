//! Zipkin v1 JSON (`POST /api/v1/spans`) straight to OTLP, as otelcol-contrib's
//! `pkg/translator/zipkin/zipkinv1/json.go` and `status_code.go`: the kind
//! and times from the core annotations (cs/cr/sr/ss/ms/mr), other
//! annotations as events, binary annotations as attributes, one resource per
//! endpoint (`service.name` and its `ipv4`/`ipv6`/`port`).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde::Deserialize;

use super::model::{span_id_from_hex, trace_id_from_hex};
use super::translate::{put, status_code_from_name, tag_value, START_TIME_ABSENT};

const UNKNOWN_SERVICE: &str = "unknown-service";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Span {
    trace_id: String,
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    timestamp: i64,
    #[serde(default)]
    duration: i64,
    #[serde(default)]
    annotations: Vec<Annotation>,
    #[serde(default)]
    binary_annotations: Vec<BinaryAnnotation>,
}

#[derive(Deserialize, Clone, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    ipv4: String,
    #[serde(default)]
    ipv6: String,
    #[serde(default)]
    port: i32,
}

#[derive(Deserialize)]
struct Annotation {
    #[serde(default)]
    timestamp: i64,
    #[serde(default)]
    value: String,
    #[serde(default)]
    endpoint: Option<Endpoint>,
}

#[derive(Deserialize)]
struct BinaryAnnotation {
    key: String,
    /// zipkin-api's v1 model allows bool and number values besides strings
    value: serde_json::Value,
    #[serde(default)]
    endpoint: Option<Endpoint>,
}

/// Parses a v1 JSON body into OTLP resource spans.
pub fn to_otlp(body: &[u8], parse_string_tags: bool) -> Result<Vec<ResourceSpans>, String> {
    let spans: Vec<V1Span> = serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v1 JSON: {e}"))?;
    let mut out: Vec<(Endpoint, ResourceSpans)> = Vec::new();
    for (i, s) in spans.into_iter().enumerate() {
        let (span, endpoint) = span(s, parse_string_tags).map_err(|e| format!("span {i}: {e}"))?;
        let at = match out.iter().position(|(e, _)| *e == endpoint) {
            Some(at) => at,
            None => {
                out.push((endpoint.clone(), resource_spans(&endpoint)));
                out.len() - 1
            }
        };
        out[at].1.scope_spans[0].spans.push(span);
    }
    Ok(out.into_iter().map(|(_, rs)| rs).collect())
}

fn resource_spans(e: &Endpoint) -> ResourceSpans {
    let mut attrs = Vec::new();
    put(&mut attrs, "service.name", Value::StringValue(e.service_name.clone()));
    if !e.ipv4.is_empty() {
        put(&mut attrs, "ipv4", Value::StringValue(e.ipv4.clone()));
    }
    if !e.ipv6.is_empty() {
        put(&mut attrs, "ipv6", Value::StringValue(e.ipv6.clone()));
    }
    if e.port != 0 {
        put(&mut attrs, "port", Value::StringValue(e.port.to_string()));
    }
    ResourceSpans {
        resource: Some(Resource { attributes: attrs, ..Default::default() }),
        scope_spans: vec![ScopeSpans::default()],
        ..Default::default()
    }
}

fn micros_to_nanos(us: i64) -> u64 {
    if us <= 0 {
        0
    } else {
        (us as u64).saturating_mul(1000)
    }
}

fn span(s: V1Span, parse_string_tags: bool) -> Result<(Span, Endpoint), String> {
    if s.trace_id.len() != 16 && s.trace_id.len() != 32 {
        return Err(format!("traceId {:?} must be 16 or 32 hex characters", s.trace_id));
    }
    if s.id.len() != 16 {
        return Err(format!("id {:?} must be 16 hex characters", s.id));
    }
    let mut span = Span {
        trace_id: trace_id_from_hex(&s.trace_id)?.to_vec(),
        span_id: span_id_from_hex("id", &s.id)?.to_vec(),
        name: s.name,
        ..Default::default()
    };
    if let Some(p) = s.parent_id.as_deref().filter(|p| !p.is_empty()) {
        if p.len() != 16 {
            return Err(format!("parentId {p:?} must be 16 hex characters"));
        }
        span.parent_span_id = span_id_from_hex("parentId", p)?.to_vec();
    }
    let mut endpoint = annotations(&mut span, &s.annotations);
    let fallback = binary_annotations(&mut span, &s.binary_annotations, parse_string_tags);
    if endpoint.service_name == UNKNOWN_SERVICE && !fallback.is_empty() {
        endpoint.service_name = fallback;
    }
    if s.timestamp != 0 {
        span.start_time_unix_nano = micros_to_nanos(s.timestamp);
        span.end_time_unix_nano = micros_to_nanos(s.timestamp.saturating_add(s.duration));
    }
    if span.start_time_unix_nano == 0 {
        // upstream stamps the receive time and flags it
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        (span.start_time_unix_nano, span.end_time_unix_nano) = (now, now);
        put(&mut span.attributes, START_TIME_ABSENT, Value::BoolValue(true));
    }
    Ok((span, endpoint))
}

/// Kind, start and end from the core annotations, the rest as events; the
/// span's endpoint is that of the first core annotation with a service name.
fn annotations(span: &mut Span, annotations: &[Annotation]) -> Endpoint {
    let (mut earliest, mut latest) = (i64::MAX, i64::MIN);
    let mut endpoint: Option<Endpoint> = None;
    let mut kind_set = false;
    for a in annotations.iter().filter(|a| !a.value.is_empty()) {
        let named = a.endpoint.as_ref().filter(|e| !e.service_name.is_empty());
        let kind = match a.value.as_str() {
            "cs" | "cr" => Some(SpanKind::Client),
            "ms" => Some(SpanKind::Producer),
            "mr" => Some(SpanKind::Consumer),
            "ss" | "sr" => Some(SpanKind::Server),
            _ => None,
        };
        if endpoint.is_none() && kind.is_some() {
            endpoint = named.cloned();
        }
        if let (false, Some(k)) = (kind_set, kind) {
            span.kind = k as i32;
            kind_set = true;
        }
        let ts = micros_to_nanos(a.timestamp);
        if a.timestamp < earliest {
            earliest = a.timestamp;
            span.start_time_unix_nano = ts;
        }
        if a.timestamp > latest {
            latest = a.timestamp;
            span.end_time_unix_nano = ts;
        }
        if kind.is_none() {
            span.events.push(Event { time_unix_nano: ts, name: a.value.clone(), ..Default::default() });
        }
    }
    endpoint.unwrap_or(Endpoint { service_name: UNKNOWN_SERVICE.into(), ..Default::default() })
}

/// Attributes from binary annotations, with upstream's status rules: OpenCensus
/// codes first, then `otel.status_code`, then the `error` tag, then
/// `http.status_code`. Returns the fallback service name.
fn binary_annotations(span: &mut Span, bins: &[BinaryAnnotation], parse_string_tags: bool) -> String {
    let mut fallback = String::new();
    let mut local_component = String::new();
    let (mut census, mut otel, mut error, mut http): (Option<StatusCode>, Option<i32>, bool, Option<StatusCode>) =
        (None, None, false, None);
    let (mut census_msg, mut otel_msg, mut http_msg) = (String::new(), String::new(), String::new());
    for b in bins {
        if let Some(e) = b.endpoint.as_ref().filter(|e| !e.service_name.is_empty()) {
            fallback = e.service_name.clone();
        }
        let text = match &b.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut key = b.key.as_str();
        if key == "lc" {
            key = "component";
            local_component = text.clone();
        }
        let as_int = || text.parse::<i32>().ok();
        match key {
            "census.status_code" => {
                census = as_int().map(|c| if c == 0 { StatusCode::Ok } else { StatusCode::Error });
                continue;
            }
            "census.status_description" | "opencensus.status_description" => {
                census_msg = text;
                continue;
            }
            "otel.status_code" => {
                otel = as_int().or_else(|| status_code_from_name(&text).map(|c| c as i32));
                continue;
            }
            "otel.status_description" => {
                otel_msg = text;
                continue;
            }
            "error" => {
                error = true;
                continue;
            }
            "http.status_code" => {
                http = as_int().map(|c| if (100..400).contains(&c) { StatusCode::Unset } else { StatusCode::Error })
            }
            "http.status_message" => http_msg = text.clone(),
            _ => {}
        }
        put(&mut span.attributes, key, tag_value(&text, parse_string_tags));
    }
    let status = match (census, otel, error, http) {
        (Some(c), ..) => Some((c as i32, census_msg)),
        (None, Some(c), ..) => Some((c, otel_msg)),
        (None, None, true, _) => {
            Some((StatusCode::Error as i32, if census_msg.is_empty() { otel_msg } else { census_msg }))
        }
        (None, None, false, Some(c)) => Some((c as i32, http_msg)),
        _ => None,
    };
    if let Some((code, message)) = status {
        span.status = Some(Status { code, message });
    }
    if fallback.is_empty() {
        local_component
    } else {
        fallback
    }
}

#[cfg(test)]
#[path = "v1_tests.rs"]
mod tests;
