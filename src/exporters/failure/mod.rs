//! What counts as a failed operation, shared by the `mysql` and `alert`
//! exporters so both see the same failures: a span whose status is ERROR or
//! that carries an `exception` event, and a log record at or above a
//! minimum severity. Values are flattened into plain structs (hex ids, JSON
//! attributes) that a store or a notifier can use without the OTLP types.

pub mod scan;

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::trace::v1::{span, status, ResourceSpans, Span};
use serde::Deserialize;
use serde_json::{Map, Value};

/// A span that failed (or, in `all` mode, any span), flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub service_name: String,
    pub span_name: String,
    pub span_kind: &'static str,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub status_code: &'static str,
    pub status_message: String,
    pub exception_type: String,
    pub exception_message: String,
    pub exception_stacktrace: String,
    pub resource_attributes: Value,
    pub span_attributes: Value,
}

impl FailedSpan {
    pub fn duration_ms(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e6
    }

    /// The error type shown in alerts and tables: the exception type, else
    /// the status message, else "error".
    pub fn error_type(&self) -> &str {
        [&self.exception_type, &self.status_message].into_iter().find(|s| !s.is_empty()).map_or("error", |s| s)
    }
}

/// A log record at or above the minimum severity, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorLog {
    /// `time_unix_nano`, or the observed time when the record has none
    pub time_unix_nano: u64,
    pub observed_unix_nano: u64,
    pub service_name: String,
    /// the instrumentation scope name (the logger), used as the operation
    pub scope_name: String,
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
    pub attributes: Value,
    pub resource_attributes: Value,
}

impl ErrorLog {
    /// `exception.type` when the record carries one, else the severity text.
    pub fn error_type(&self) -> String {
        match self.attributes.get("exception.type").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => t.to_owned(),
            _ if !self.severity_text.is_empty() => self.severity_text.clone(),
            _ => "ERROR".to_owned(),
        }
    }

    /// `code.function.name` (or the older `code.function`), else the scope.
    pub fn operation(&self) -> String {
        for key in ["code.function.name", "code.function"] {
            if let Some(f) = self.attributes.get(key).and_then(Value::as_str).filter(|f| !f.is_empty()) {
                return f.to_owned();
            }
        }
        if self.scope_name.is_empty() {
            "log".to_owned()
        } else {
            self.scope_name.clone()
        }
    }
}

/// The `logs` section of the failure exporters (`mysql`, `alert`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsOptions {
    /// records at or above this severity are failures (default ERROR)
    pub min_severity: Severity,
}

/// A log severity given by name (`ERROR`, `warn`, `FATAL2`...) or number,
/// as in the OTel log data model (TRACE=1, DEBUG=5, INFO=9, WARN=13,
/// ERROR=17, FATAL=21, each with four steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Severity(pub i32);

impl Default for Severity {
    fn default() -> Self {
        Severity(17)
    }
}

impl Severity {
    /// A record's severity: its `severity_number`, or when that is 0 its
    /// `severity_text` read as a name (0 when it is none).
    pub fn of_record(number: i32, text: &str) -> i32 {
        match number {
            0 => Severity::parse(text).map_or(0, |s| s.0),
            n => n,
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        if let Ok(n) = s.trim().parse::<i32>() {
            return (1..=24).contains(&n).then_some(Severity(n));
        }
        let upper = s.trim().to_ascii_uppercase();
        let (name, step) = match upper.find(|c: char| c.is_ascii_digit()) {
            Some(i) => (&upper[..i], upper[i..].parse::<i32>().ok().filter(|n| (1..=4).contains(n))?),
            None => (upper.as_str(), 1),
        };
        let base = match name {
            "TRACE" => 1,
            "DEBUG" => 5,
            "INFO" => 9,
            "WARN" | "WARNING" => 13,
            "ERROR" => 17,
            "FATAL" | "CRITICAL" => 21,
            _ => return None,
        };
        Some(Severity(base + step - 1))
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let text = match &v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        Severity::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{v} is not a log severity: use TRACE, DEBUG, INFO, WARN, ERROR or FATAL (optionally with 2-4), or 1-24"
            ))
        })
    }
}

/// Whether a span failed: status ERROR or an `exception` event.
pub fn is_failed(span: &Span) -> bool {
    span.status.as_ref().is_some_and(|s| s.code == status::StatusCode::Error as i32)
        || span.events.iter().any(|e| e.name == "exception")
}

/// The failed spans of a request (every span when `all`).
pub fn failed_spans(resources: &[ResourceSpans], all: bool) -> Vec<FailedSpan> {
    let mut out = Vec::new();
    for rs in resources {
        let resource_attrs = rs.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let service = service_name(resource_attrs);
        let resource_json = attributes_json(resource_attrs);
        for ss in &rs.scope_spans {
            for sp in ss.spans.iter().filter(|s| all || is_failed(s)) {
                out.push(flatten_span(sp, &service, &resource_json));
            }
        }
    }
    out
}

fn flatten_span(sp: &Span, service: &str, resource_json: &Value) -> FailedSpan {
    // The first exception event wins; a span may also carry the exception
    // only as span attributes (some SDKs do).
    let exception = sp.events.iter().find(|e| e.name == "exception").map(|e| e.attributes.as_slice());
    let ex = |key: &str| exception.and_then(|a| string_attr(a, key)).or_else(|| string_attr(&sp.attributes, key));
    let status = sp.status.clone().unwrap_or_default();
    FailedSpan {
        trace_id: const_hex::encode(&sp.trace_id),
        span_id: const_hex::encode(&sp.span_id),
        parent_span_id: const_hex::encode(&sp.parent_span_id),
        service_name: service.to_owned(),
        span_name: sp.name.clone(),
        span_kind: span_kind(sp.kind),
        start_unix_nano: sp.start_time_unix_nano,
        end_unix_nano: sp.end_time_unix_nano,
        status_code: match status.code {
            1 => "OK",
            2 => "ERROR",
            _ => "UNSET",
        },
        status_message: status.message,
        exception_type: ex("exception.type").unwrap_or_default(),
        exception_message: ex("exception.message").unwrap_or_default(),
        exception_stacktrace: ex("exception.stacktrace").unwrap_or_default(),
        resource_attributes: resource_json.clone(),
        span_attributes: attributes_json(&sp.attributes),
    }
}

fn span_kind(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Internal) => "INTERNAL",
        Ok(span::SpanKind::Server) => "SERVER",
        Ok(span::SpanKind::Client) => "CLIENT",
        Ok(span::SpanKind::Producer) => "PRODUCER",
        Ok(span::SpanKind::Consumer) => "CONSUMER",
        _ => "UNSPECIFIED",
    }
}

/// The log records at or above `min` (a record without a severity number
/// is judged by its severity text).
pub fn error_logs(resources: &[ResourceLogs], min: Severity) -> Vec<ErrorLog> {
    let mut out = Vec::new();
    for rl in resources {
        let resource_attrs = rl.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let service = service_name(resource_attrs);
        let resource_json = attributes_json(resource_attrs);
        for sl in &rl.scope_logs {
            let scope_name = sl.scope.as_ref().map(|s| s.name.clone()).unwrap_or_default();
            for lr in &sl.log_records {
                let severity = Severity::of_record(lr.severity_number, &lr.severity_text);
                if severity < min.0 {
                    continue;
                }
                out.push(ErrorLog {
                    time_unix_nano: if lr.time_unix_nano != 0 { lr.time_unix_nano } else { lr.observed_time_unix_nano },
                    observed_unix_nano: lr.observed_time_unix_nano,
                    service_name: service.clone(),
                    scope_name: scope_name.clone(),
                    severity_number: severity,
                    severity_text: lr.severity_text.clone(),
                    body: lr.body.as_ref().map(display_value).unwrap_or_default(),
                    trace_id: const_hex::encode(&lr.trace_id),
                    span_id: const_hex::encode(&lr.span_id),
                    attributes: attributes_json(&lr.attributes),
                    resource_attributes: resource_json.clone(),
                });
            }
        }
    }
    out
}

/// `service.name`, or `unknown_service` as the SDKs default it.
pub fn service_name(resource_attrs: &[KeyValue]) -> String {
    string_attr(resource_attrs, "service.name").unwrap_or_else(|| "unknown_service".to_owned())
}

fn string_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()).map(display_value)
}

/// Attributes as a JSON object (later duplicates win, as in pdata).
pub fn attributes_json(attrs: &[KeyValue]) -> Value {
    let mut map = Map::new();
    for kv in attrs {
        map.insert(kv.key.clone(), kv.value.as_ref().map_or(Value::Null, any_json));
    }
    Value::Object(map)
}

/// An `AnyValue` as JSON the way otelcol's pdata `AsRaw` renders it: bytes
/// become base64 (so bytes that are not UTF-8 never reach a text column
/// raw), 64-bit integers stay numbers, non-finite doubles become strings.
pub fn any_json(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or_else(|| Value::String(d.to_string()), Value::Number)
        }
        Some(any_value::Value::BytesValue(b)) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(any_json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => attributes_json(&kv.values),
        Some(any_value::Value::StringValueStrindex(i)) => Value::from(*i),
    }
}

/// An `AnyValue` as text: strings as they are, everything else as JSON.
pub fn display_value(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => match any_json(v) {
            Value::String(s) => s,
            other => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{span::Event, ScopeSpans, Status};

    use super::*;
    use crate::testkit::{kv, resource, s};

    fn span(name: &str, code: i32, events: Vec<Event>) -> Span {
        Span {
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            name: name.into(),
            kind: 2,
            start_time_unix_nano: 1_000_000_000,
            end_time_unix_nano: 1_250_000_000,
            status: Some(Status { code, message: if code == 2 { "boom".into() } else { String::new() } }),
            events,
            attributes: vec![kv("http.route", s("/pay")), kv("raw", V::BytesValue(vec![0xff, 0xfe]))],
            ..Default::default()
        }
    }
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

    #[test]
    fn error_status_and_exception_events_are_failures() {
        let exc = Event {
            name: "exception".into(),
            attributes: vec![kv("exception.type", s("ValueError")), kv("exception.message", s("bad"))],
            ..Default::default()
        };
        let rs = ResourceSpans {
            resource: resource("checkout"),
            scope_spans: vec![ScopeSpans {
                spans: vec![span("ok", 1, vec![]), span("err", 2, vec![]), span("exc", 0, vec![exc])],
                ..Default::default()
            }],
            ..Default::default()
        };
        let failed = failed_spans(std::slice::from_ref(&rs), false);
        let names: Vec<&str> = failed.iter().map(|f| f.span_name.as_str()).collect();
        assert_eq!(names, ["err", "exc"]);
        assert_eq!(failed[0].error_type(), "boom");
        assert_eq!(failed[1].error_type(), "ValueError");
        assert_eq!(failed[1].exception_message, "bad");
        assert_eq!(failed[0].trace_id, "ab".repeat(16));
        assert_eq!(failed[0].span_kind, "SERVER");
        assert_eq!(failed[0].duration_ms(), 250.0);
        assert_eq!(failed[0].service_name, "checkout");
        assert_eq!(failed[0].span_attributes["raw"], "//4=", "bytes are base64");
        assert_eq!(failed_spans(&[rs], true).len(), 3);
    }

    #[test]
    fn logs_at_or_above_min_severity() {
        let rec = |n: i32, text: &str| LogRecord {
            severity_number: n,
            severity_text: text.into(),
            body: Some(AnyValue { value: Some(V::StringValue(format!("{text} happened"))) }),
            observed_time_unix_nano: 7,
            ..Default::default()
        };
        let rl = ResourceLogs {
            resource: resource("api"),
            scope_logs: vec![ScopeLogs {
                log_records: vec![rec(9, "INFO"), rec(17, "ERROR"), rec(0, "fatal"), rec(13, "WARN")],
                ..Default::default()
            }],
            ..Default::default()
        };
        let logs = error_logs(std::slice::from_ref(&rl), Severity::default());
        let texts: Vec<&str> = logs.iter().map(|l| l.severity_text.as_str()).collect();
        assert_eq!(texts, ["ERROR", "fatal"]);
        assert_eq!(logs[1].severity_number, 21);
        assert_eq!(logs[0].time_unix_nano, 7, "falls back to the observed time");
        assert_eq!(error_logs(&[rl], Severity::parse("warn").unwrap()).len(), 3);
    }

    #[test]
    fn severity_names_and_numbers() {
        assert_eq!(Severity::parse("ERROR"), Some(Severity(17)));
        assert_eq!(Severity::parse("error3"), Some(Severity(19)));
        assert_eq!(Severity::parse("Warning"), Some(Severity(13)));
        assert_eq!(Severity::parse("21"), Some(Severity(21)));
        assert_eq!(Severity::parse("LOUD"), None);
        assert_eq!(Severity::parse("ERROR5"), None);
        assert_eq!(Severity::parse("0"), None);
    }
}
