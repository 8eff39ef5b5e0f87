//! OTLP logs to Loki push requests, as otelcol-contrib's
//! `pkg/translator/loki` (`LogsToLokiRequests`, `convert.go`) does it:
//! records are grouped by tenant (the `loki.tenant` hint), then into streams
//! by label set. Labels: the defaults `exporter="OTLP"`, `job` (from
//! `service.namespace/service.name`), `instance` (`service.instance.id`) and
//! `level` (from the severity number), each switchable off by
//! `default_labels_enabled`, plus the attributes the `loki.attribute.labels`
//! and `loki.resource.labels` hints name. Promoted attributes and the hints
//! leave the line; `loki.format` picks json, logfmt or raw.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs};

use super::encode;
use super::proto::{Entry, PushRequest, Stream, Timestamp};
use crate::otlp::pdata;

const HINT_ATTRIBUTES: &str = "loki.attribute.labels";
const HINT_RESOURCES: &str = "loki.resource.labels";
const HINT_TENANT: &str = "loki.tenant";
const HINT_FORMAT: &str = "loki.format";

/// Which default labels are on (`default_labels_enabled`; a missing key means on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultLabels {
    pub exporter: bool,
    pub job: bool,
    pub instance: bool,
    pub level: bool,
}

impl Default for DefaultLabels {
    fn default() -> Self {
        DefaultLabels { exporter: true, job: true, instance: true, level: true }
    }
}

/// One tenant's push request and what happened to its records.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRequest {
    /// empty: no `X-Scope-OrgID` header
    pub tenant: String,
    pub request: PushRequest,
    pub submitted: usize,
    pub dropped: usize,
    pub errors: Vec<String>,
}

/// Requests in the order their tenants first appear; streams in the order
/// their label sets first appear.
pub fn requests(resources: &[ResourceLogs], defaults: DefaultLabels, now_nanos: u64) -> Vec<TenantRequest> {
    let mut out: Vec<TenantRequest> = Vec::new();
    let mut stream_index: Vec<HashMap<String, usize>> = Vec::new();
    for rl in resources {
        let resource = rl.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        for sl in &rl.scope_logs {
            for lr in &sl.log_records {
                let tenant = tenant(&lr.attributes, resource);
                let t = match out.iter().position(|r| r.tenant == tenant) {
                    Some(t) => t,
                    None => {
                        out.push(TenantRequest {
                            tenant,
                            request: PushRequest::default(),
                            submitted: 0,
                            dropped: 0,
                            errors: Vec::new(),
                        });
                        stream_index.push(HashMap::new());
                        out.len() - 1
                    }
                };
                let group = &mut out[t];
                match entry(lr, resource, sl.scope.as_ref(), defaults, now_nanos) {
                    Ok((labels, entry)) => {
                        group.submitted += 1;
                        let streams = &mut group.request.streams;
                        let i = *stream_index[t].entry(labels.clone()).or_insert_with(|| {
                            streams.push(Stream { labels, entries: Vec::new() });
                            streams.len() - 1
                        });
                        streams[i].entries.push(entry);
                    }
                    Err(e) => {
                        group.dropped += 1;
                        group.errors.push(format!("failed to convert, dropping log: {e}"));
                    }
                }
            }
        }
    }
    out
}

/// `GetTenantFromTenantHint`: the hint (resource first, then record) names
/// the attribute holding the tenant, looked up in the resource then the record.
pub fn tenant(log_attrs: &[KeyValue], resource: &[KeyValue]) -> String {
    let Some(hint) = get(resource, HINT_TENANT).or_else(|| get(log_attrs, HINT_TENANT)) else {
        return String::new();
    };
    let name = str_of(hint);
    get(resource, &name).or_else(|| get(log_attrs, &name)).map(str_of).unwrap_or_default()
}

/// `LogToLokiEntry`: the stream's label text and the entry.
pub fn entry(
    lr: &LogRecord,
    resource: &[KeyValue],
    scope: Option<&InstrumentationScope>,
    defaults: DefaultLabels,
    now_nanos: u64,
) -> Result<(String, Entry), String> {
    let mut log = lr.clone();
    let mut resource = resource.to_vec();
    if defaults.level && log.severity_number != 0 {
        add_level(&mut log);
    }
    let format = get(&resource, HINT_FORMAT).or_else(|| get(&log.attributes, HINT_FORMAT)).map(pdata::as_string);
    let labels = merged_labels(&log.attributes, &resource, defaults);
    remove_promoted(&mut log.attributes, &labels);
    remove_promoted(&mut resource, &labels);
    let line = match format.as_deref().unwrap_or("json") {
        "json" => encode::json(&log, &resource, scope),
        "logfmt" => encode::logfmt(&log, &resource, scope),
        "raw" => encode::raw(&log),
        other => return Err(format!("invalid format {other}. Expected one of: json, logfmt, raw")),
    };
    let nanos = [log.time_unix_nano, log.observed_time_unix_nano].into_iter().find(|t| *t != 0).unwrap_or(now_nanos);
    let normalized: BTreeMap<String, String> = labels.into_iter().map(|(k, v)| (normalize_label(&k), v)).collect();
    Ok((label_text(&normalized), Entry { timestamp: Some(Timestamp::from_nanos(nanos)), line }))
}

fn get<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs.iter().rev().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

fn str_of(v: &AnyValue) -> String {
    match &v.value {
        Some(Kind::StringValue(s)) => s.clone(),
        _ => String::new(),
    }
}

/// `addLogLevelAttributeAndHint`: a `level` attribute from the severity
/// number (unless one exists), and `level` added to the attribute hint.
fn add_level(log: &mut LogRecord) {
    let attrs = &mut log.attributes;
    match attrs.iter_mut().find(|kv| kv.key == HINT_ATTRIBUTES).and_then(|kv| kv.value.as_mut()) {
        Some(AnyValue { value: Some(Kind::ArrayValue(a)) }) => {
            a.values.push(AnyValue { value: Some(Kind::StringValue("level".into())) })
        }
        Some(v @ AnyValue { value: Some(Kind::StringValue(_)) }) => {
            *v = AnyValue { value: Some(Kind::StringValue(format!("{},level", pdata::as_string(v)))) }
        }
        Some(_) => {}
        None => attrs.push(str_kv(HINT_ATTRIBUTES, "level")),
    }
    if get(attrs, "level").is_none() {
        attrs.push(str_kv("level", level(log.severity_number)));
    }
}

fn str_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(Kind::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// The severity number's name, as upstream's `severityNumberToLevel`.
pub fn level(n: i32) -> &'static str {
    const ALL: [[&str; 4]; 6] = [
        ["TRACE", "TRACE2", "TRACE3", "TRACE4"],
        ["DEBUG", "DEBUG2", "DEBUG3", "DEBUG4"],
        ["INFO", "INFO2", "INFO3", "INFO4"],
        ["WARN", "WARN2", "WARN3", "WARN4"],
        ["ERROR", "ERROR2", "ERROR3", "ERROR4"],
        ["FATAL", "FATAL2", "FATAL3", "FATAL4"],
    ];
    match n {
        1..=24 => ALL[(n as usize - 1) / 4][(n as usize - 1) % 4],
        _ => "UNSPECIFIED",
    }
}

/// `convertAttributesAndMerge`: defaults, then the resource hint (on the
/// resource, then on the record), then the record's attribute hint; later wins.
fn merged_labels(log_attrs: &[KeyValue], resource: &[KeyValue], d: DefaultLabels) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if d.exporter {
        out.insert("exporter".to_owned(), "OTLP".to_owned());
    }
    if d.job {
        let name = get(resource, "service.name").map(pdata::as_string);
        let ns = get(resource, "service.namespace").map(pdata::as_string);
        match (ns, name) {
            (Some(ns), Some(name)) => out.insert("job".into(), format!("{ns}/{name}")),
            (None, Some(name)) => out.insert("job".into(), name),
            _ => None,
        };
    }
    if d.instance {
        if let Some(id) = get(resource, "service.instance.id") {
            out.insert("instance".into(), pdata::as_string(id));
        }
    }
    if let Some(hint) = get(resource, HINT_RESOURCES) {
        out.extend(select(resource, hint));
    }
    if let Some(hint) = get(log_attrs, HINT_RESOURCES) {
        out.extend(select(resource, hint));
    }
    if let Some(hint) = get(log_attrs, HINT_ATTRIBUTES) {
        out.extend(select(log_attrs, hint));
    }
    out
}

/// The attributes a hint names (a comma-separated string or a slice), with
/// dotted names also looked up inside map values.
fn select(attrs: &[KeyValue], hint: &AnyValue) -> Vec<(String, String)> {
    let names: Vec<String> = match &hint.value {
        Some(Kind::StringValue(s)) => s.split(',').map(str::to_owned).collect(),
        Some(Kind::ArrayValue(a)) => a.values.iter().map(pdata::as_string).collect(),
        _ => vec![pdata::as_string(hint)],
    };
    names
        .into_iter()
        .filter_map(|n| {
            let n = n.trim().to_owned();
            lookup(&n, attrs).map(|v| (n, pdata::as_string(v)))
        })
        .collect()
}

/// `getAttribute`: the name as it is, else split at a dot (longest prefix
/// first) and continue inside a map value.
fn lookup<'a>(name: &str, attrs: &'a [KeyValue]) -> Option<&'a AnyValue> {
    if let Some(v) = get(attrs, name) {
        return Some(v);
    }
    let segments: Vec<&str> = name.split('.').collect();
    for i in 0..segments.len().saturating_sub(1) {
        let cut = segments.len() - i - 1;
        let (left, right) = (segments[..cut].join("."), segments[cut..].join("."));
        if let Some(AnyValue { value: Some(Kind::KvlistValue(m)) }) = lookup(&left, attrs) {
            return lookup(&right, &m.values);
        }
    }
    None
}

fn remove_promoted(attrs: &mut Vec<KeyValue>, labels: &BTreeMap<String, String>) {
    attrs.retain(|kv| {
        ![HINT_ATTRIBUTES, HINT_RESOURCES, HINT_TENANT, HINT_FORMAT].contains(&kv.key.as_str())
            && !labels.contains_key(&kv.key)
    });
}

/// Prometheus' `NormalizeLabel`: invalid characters to `_`, `key_` before
/// a leading digit, `key` before a single leading `_`.
pub fn normalize_label(label: &str) -> String {
    if label.is_empty() {
        return String::new();
    }
    let s: String = label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{s}")
    } else if s.starts_with('_') && !s.starts_with("__") {
        format!("key{s}")
    } else {
        s
    }
}

/// Prometheus' `LabelSet.String()`: `{a="1", b="2"}`, names sorted, values Go-quoted.
pub fn label_text(labels: &BTreeMap<String, String>) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
