//! What the debug exporter writes for a batch: the one-line summary every
//! verbosity starts with, and for `normal` one line per item or for
//! `detailed` every field, in the layout of otelcol's debug exporter.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Metric};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::otlp::data::Decoded;
use crate::signal::{Batch, Signal};

pub(super) fn summary(name: &str, batch: &Batch, decoded: Option<&Decoded>) -> String {
    let (title, noun, resources) = match batch.signal() {
        Signal::Traces => ("Traces", "spans", "resource spans"),
        Signal::Metrics => ("Metrics", "data points", "resource metrics"),
        Signal::Logs => ("Logs", "log records", "resource logs"),
    };
    let resource_count = decoded.map(resource_count).map(|n| format!("\"{resources}\": {n}, ")).unwrap_or_default();
    format!(
        "{}\tinfo\t{title}\t{{\"otelcol.component.id\": \"{name}\", {resource_count}\"{noun}\": {}}}\n",
        now(),
        batch.items()
    )
}

fn resource_count(d: &Decoded) -> usize {
    match d {
        Decoded::Traces(v) => v.len(),
        Decoded::Metrics(v) => v.len(),
        Decoded::Logs(v) => v.len(),
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn time(nanos: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
}

fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => "Empty()".into(),
        Some(V::StringValue(s)) => format!("Str({s})"),
        Some(V::BoolValue(b)) => format!("Bool({b})"),
        Some(V::IntValue(i)) => format!("Int({i})"),
        Some(V::DoubleValue(d)) => format!("Double({d})"),
        Some(V::BytesValue(b)) => format!("Bytes({})", const_hex::encode(b)),
        Some(V::ArrayValue(a)) => {
            format!("Slice([{}])", a.values.iter().map(|v| value(&Some(v.clone()))).collect::<Vec<_>>().join(", "))
        }
        Some(V::KvlistValue(kv)) => format!("Map({{{}}})", inline_attrs(&kv.values)),
        Some(V::StringValueStrindex(i)) => format!("StrIndex({i})"),
    }
}

fn inline_attrs(attrs: &[KeyValue]) -> String {
    attrs.iter().map(|kv| format!("{}={}", kv.key, value(&kv.value))).collect::<Vec<_>>().join(" ")
}

fn attrs_block(out: &mut String, title: &str, attrs: &[KeyValue]) {
    if attrs.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for kv in attrs {
        let _ = writeln!(out, "     -> {}: {}", kv.key, value(&kv.value));
    }
}

fn resource_header(out: &mut String, kind: &str, i: usize, resource: &Option<Resource>, schema: &str, detailed: bool) {
    let attrs = resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
    if detailed {
        let _ = writeln!(out, "{kind} #{i}\nResource SchemaURL: {schema}");
        attrs_block(out, "Resource attributes", attrs);
    } else {
        let _ = writeln!(out, "{kind} #{i} {}", inline_attrs(attrs));
    }
}

fn scope_header(
    out: &mut String,
    kind: &str,
    i: usize,
    scope: &Option<InstrumentationScope>,
    schema: &str,
    detailed: bool,
) {
    let (name, version) = scope.as_ref().map(|s| (s.name.as_str(), s.version.as_str())).unwrap_or_default();
    if detailed {
        let _ = writeln!(out, "{kind} #{i}\n{kind} SchemaURL: {schema}\nInstrumentationScope {name} {version}");
    } else {
        let _ = writeln!(out, "{kind} #{i} {name}@{version}");
    }
}

pub(super) fn render(out: &mut String, d: &Decoded, detailed: bool) {
    match d {
        Decoded::Traces(rs) => walk(
            out,
            ("ResourceSpans", "ScopeSpans"),
            detailed,
            rs,
            |r| (&r.resource, &r.schema_url, &r.scope_spans),
            |s| (&s.scope, &s.schema_url, &s.spans),
            |out, k, sp| span(out, k, sp, detailed),
        ),
        Decoded::Logs(rs) => walk(
            out,
            ("ResourceLog", "ScopeLogs"),
            detailed,
            rs,
            |r| (&r.resource, &r.schema_url, &r.scope_logs),
            |s| (&s.scope, &s.schema_url, &s.log_records),
            |out, k, l| log_record(out, k, l, detailed),
        ),
        Decoded::Metrics(rs) => walk(
            out,
            ("ResourceMetrics", "ScopeMetrics"),
            detailed,
            rs,
            |r| (&r.resource, &r.schema_url, &r.scope_metrics),
            |s| (&s.scope, &s.schema_url, &s.metrics),
            |out, k, m| metric(out, k, m, detailed),
        ),
    }
}

/// Writes each resource's header, its scopes' headers, and each scope's items with `item`.
fn walk<R, S, I>(
    out: &mut String,
    (resource_kind, scope_kind): (&str, &str),
    detailed: bool,
    resources: &[R],
    resource: impl Fn(&R) -> (&Option<Resource>, &str, &[S]),
    scope: impl Fn(&S) -> (&Option<InstrumentationScope>, &str, &[I]),
    item: impl Fn(&mut String, usize, &I),
) {
    for (i, r) in resources.iter().enumerate() {
        let (res, schema, scopes) = resource(r);
        resource_header(out, resource_kind, i, res, schema, detailed);
        for (j, s) in scopes.iter().enumerate() {
            let (sc, schema, items) = scope(s);
            scope_header(out, scope_kind, j, sc, schema, detailed);
            for (k, it) in items.iter().enumerate() {
                item(out, k, it);
            }
        }
    }
}

fn span(out: &mut String, k: usize, sp: &Span, detailed: bool) {
    let (tid, sid, pid) =
        (const_hex::encode(&sp.trace_id), const_hex::encode(&sp.span_id), const_hex::encode(&sp.parent_span_id));
    if !detailed {
        let _ = writeln!(out, "{} {tid} {sid} {}", sp.name, inline_attrs(&sp.attributes));
        return;
    }
    let status = sp.status.clone().unwrap_or_default();
    let code = ["Unset", "Ok", "Error"].get(status.code as usize).copied().unwrap_or("Unknown");
    let kind = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
        .get(sp.kind as usize)
        .copied()
        .unwrap_or("Unknown");
    let _ = writeln!(
        out,
        "Span #{k}\n    Trace ID       : {tid}\n    Parent ID      : {pid}\n    ID             : {sid}\n    Name           : {}\n    Kind           : {kind}\n    Start time     : {}\n    End time       : {}\n    Status code    : {code}\n    Status message : {}",
        sp.name,
        time(sp.start_time_unix_nano),
        time(sp.end_time_unix_nano),
        status.message
    );
    attrs_block(out, "Attributes", &sp.attributes);
    for (e, ev) in sp.events.iter().enumerate() {
        let _ =
            writeln!(out, "SpanEvent #{e}\n     -> Name: {}\n     -> Timestamp: {}", ev.name, time(ev.time_unix_nano));
        attrs_block(out, "     -> Attributes", &ev.attributes);
    }
}

fn log_record(out: &mut String, k: usize, l: &LogRecord, detailed: bool) {
    if !detailed {
        let _ = writeln!(out, "{} {}", value(&l.body), inline_attrs(&l.attributes));
        return;
    }
    let _ = writeln!(
        out,
        "LogRecord #{k}\nObservedTimestamp: {}\nTimestamp: {}\nSeverityText: {}\nSeverityNumber: {}\nBody: {}",
        time(l.observed_time_unix_nano),
        time(l.time_unix_nano),
        l.severity_text,
        l.severity_number,
        value(&l.body)
    );
    attrs_block(out, "Attributes", &l.attributes);
    let _ = writeln!(
        out,
        "Trace ID: {}\nSpan ID: {}\nFlags: {}",
        const_hex::encode(&l.trace_id),
        const_hex::encode(&l.span_id),
        l.flags
    );
}

fn metric(out: &mut String, k: usize, m: &Metric, detailed: bool) {
    let (ty, points) = metric_points(m.data.as_ref());
    if !detailed {
        let _ = writeln!(out, "{} {ty} {}", m.name, points.join(" "));
        return;
    }
    let _ = writeln!(
        out,
        "Metric #{k}\nDescriptor:\n     -> Name: {}\n     -> Description: {}\n     -> Unit: {}\n     -> DataType: {ty}",
        m.name, m.description, m.unit
    );
    for (p, line) in points.iter().enumerate() {
        let _ = writeln!(out, "DataPoint #{p}: {line}");
    }
}

fn metric_points(data: Option<&Data>) -> (&'static str, Vec<String>) {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as N;
    let num = |attrs: &[KeyValue], v: &Option<N>| {
        let v = match v {
            Some(N::AsInt(i)) => i.to_string(),
            Some(N::AsDouble(d)) => d.to_string(),
            None => "<none>".into(),
        };
        format!("{{{}}} {v}", inline_attrs(attrs))
    };
    let stats =
        |attrs: &[KeyValue], count: u64, sum: f64| format!("{{{}}} count={count} sum={sum}", inline_attrs(attrs));
    match data {
        Some(Data::Gauge(g)) => ("Gauge", g.data_points.iter().map(|p| num(&p.attributes, &p.value)).collect()),
        Some(Data::Sum(s)) => ("Sum", s.data_points.iter().map(|p| num(&p.attributes, &p.value)).collect()),
        Some(Data::Histogram(h)) => (
            "Histogram",
            h.data_points.iter().map(|p| stats(&p.attributes, p.count, p.sum.unwrap_or_default())).collect(),
        ),
        Some(Data::ExponentialHistogram(h)) => (
            "ExponentialHistogram",
            h.data_points.iter().map(|p| stats(&p.attributes, p.count, p.sum.unwrap_or_default())).collect(),
        ),
        Some(Data::Summary(s)) => {
            ("Summary", s.data_points.iter().map(|p| stats(&p.attributes, p.count, p.sum)).collect())
        }
        None => ("Empty", Vec::new()),
    }
}
