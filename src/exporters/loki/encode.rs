//! A log record as a Loki line, as otelcol-contrib's
//! `pkg/translator/loki/encode.go` writes it: `json` (body, ids, severity,
//! flags, attributes, resources, scope), `logfmt` (the same as key=value
//! pairs, a string body parsed as logfmt when it is), and `raw` (the body).

use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::otlp::pdata;

fn hex_or_empty(id: &[u8]) -> Option<String> {
    (!id.is_empty() && id.iter().any(|b| *b != 0)).then(|| const_hex::encode(id))
}

/// The `json` format: the fields of upstream's `lokiEntry` in its order,
/// empty ones left out.
pub fn json(lr: &LogRecord, resource: &[KeyValue], scope: Option<&InstrumentationScope>) -> String {
    let mut out = String::from("{");
    let field = |name: &str, value: &str, out: &mut String| {
        if out.len() > 1 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(value);
    };
    if let Some(body) = lr.body.as_ref().filter(|b| b.value.is_some()) {
        field("body", &pdata::as_json(body), &mut out);
    }
    let quoted = |s: &str| {
        let mut q = String::new();
        pdata::write_str(s, &mut q);
        q
    };
    if let Some(t) = hex_or_empty(&lr.trace_id) {
        field("traceid", &quoted(&t), &mut out);
    }
    if let Some(s) = hex_or_empty(&lr.span_id) {
        field("spanid", &quoted(&s), &mut out);
    }
    if !lr.severity_text.is_empty() {
        field("severity", &quoted(&lr.severity_text), &mut out);
    }
    if lr.flags != 0 {
        field("flags", &lr.flags.to_string(), &mut out);
    }
    if !lr.attributes.is_empty() {
        field("attributes", &pdata::attributes_json(&lr.attributes), &mut out);
    }
    if !resource.is_empty() {
        field("resources", &pdata::attributes_json(resource), &mut out);
    }
    if let Some(scope) = scope.filter(|s| !s.name.is_empty()) {
        let mut s = format!("{{\"name\":{}", quoted(&scope.name));
        if !scope.version.is_empty() {
            s.push_str(&format!(",\"version\":{}", quoted(&scope.version)));
        }
        s.push('}');
        field("instrumentation_scope", &s, &mut out);
    }
    out.push('}');
    out
}

/// A logfmt value: text, or nothing for a key without value.
type Pairs = Vec<(String, String)>;

/// The `logfmt` format.
pub fn logfmt(lr: &LogRecord, resource: &[KeyValue], scope: Option<&InstrumentationScope>) -> String {
    let mut kv = body_pairs(lr.body.as_ref());
    let replace_or_append = |k: &str, v: String, kv: &mut Pairs| match kv.iter_mut().find(|(key, _)| key == k) {
        Some(pair) => pair.1 = v,
        None => kv.push((k.into(), v)),
    };
    if let Some(t) = hex_or_empty(&lr.trace_id) {
        replace_or_append("traceID", t, &mut kv);
    }
    if let Some(s) = hex_or_empty(&lr.span_id) {
        replace_or_append("spanID", s, &mut kv);
    }
    if !lr.severity_text.is_empty() {
        replace_or_append("severity", lr.severity_text.clone(), &mut kv);
    }
    if lr.flags != 0 {
        replace_or_append("flags", lr.flags.to_string(), &mut kv);
    }
    for a in &lr.attributes {
        value_pairs(&format!("attribute_{}", a.key), a.value.as_ref(), &mut kv);
    }
    for a in resource {
        value_pairs(&format!("resource_{}", a.key), a.value.as_ref(), &mut kv);
    }
    if let Some(scope) = scope.filter(|s| !s.name.is_empty()) {
        kv.push(("instrumentation_scope_name".into(), scope.name.clone()));
        if !scope.version.is_empty() {
            kv.push(("instrumentation_scope_version".into(), scope.version.clone()));
        }
    }
    marshal(&kv)
}

/// The `raw` format: the body as text.
pub fn raw(lr: &LogRecord) -> String {
    lr.body.as_ref().map(pdata::as_string).unwrap_or_default()
}

fn body_pairs(body: Option<&AnyValue>) -> Pairs {
    let mut out = Vec::new();
    match body.and_then(|b| b.value.as_ref()) {
        None => {}
        Some(Kind::StringValue(s)) => match parse_logfmt(s) {
            Some(pairs) => out = pairs,
            None => out.push(("msg".into(), s.clone())),
        },
        Some(Kind::KvlistValue(_)) => value_pairs("", body, &mut out),
        Some(Kind::ArrayValue(_)) => value_pairs("body", body, &mut out),
        Some(Kind::BytesValue(b)) => out.push(("msg".into(), String::from_utf8_lossy(b).into_owned())),
        Some(_) => out.push(("msg".into(), scalar(body.expect("matched")))),
    }
    out
}

fn scalar(v: &AnyValue) -> String {
    match &v.value {
        // Go's %v for float64: shortest, exponent from 1e21 and below 1e-4
        Some(Kind::DoubleValue(d)) if d.is_finite() && *d != 0.0 && !(1e-4..1e21).contains(&d.abs()) => {
            let s = format!("{d:e}");
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
            format!("{m}e{sign}{digits:0>2}")
        }
        _ => pdata::as_string(v),
    }
}

/// Maps flatten to `prefix_key`, slices to `prefix_i`; empty values vanish.
fn value_pairs(key: &str, value: Option<&AnyValue>, out: &mut Pairs) {
    let prefix = if key.is_empty() { String::new() } else { format!("{key}_") };
    match value.and_then(|v| v.value.as_ref()) {
        None => {}
        Some(Kind::KvlistValue(m)) => {
            for kv in &m.values {
                value_pairs(&format!("{prefix}{}", kv.key), kv.value.as_ref(), out);
            }
        }
        Some(Kind::ArrayValue(a)) => {
            for (i, v) in a.values.iter().enumerate() {
                value_pairs(&format!("{prefix}{i}"), Some(v), out);
            }
        }
        // AsRaw gives []byte, which go-logfmt writes as it is
        Some(Kind::BytesValue(b)) => out.push((key.into(), String::from_utf8_lossy(b).into_owned())),
        Some(_) => out.push((key.into(), scalar(value.expect("matched")))),
    }
}

/// go-logfmt's decoder over the first line: `None` where it reports an
/// error (a quote in a key, `=` without key, a stray `=` or quote in a
/// value, an unterminated quote).
pub fn parse_logfmt(text: &str) -> Option<Pairs> {
    let line = text.split('\n').next().unwrap_or_default();
    let b = line.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    loop {
        while i < b.len() && b[i] <= b' ' {
            i += 1;
        }
        if i == b.len() {
            return Some(out);
        }
        let start = i;
        while i < b.len() && b[i] > b' ' && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        if (i < b.len() && b[i] == b'"') || i == start {
            return None;
        }
        let key = line[start..i].to_owned();
        if i == b.len() || b[i] != b'=' {
            out.push((key, String::new()));
            continue;
        }
        i += 1;
        if i < b.len() && b[i] == b'"' {
            let (value, end) = unquote(&line[i..])?;
            out.push((key, value));
            i += end;
        } else {
            let start = i;
            while i < b.len() && b[i] > b' ' {
                if b[i] == b'=' || b[i] == b'"' {
                    return None;
                }
                i += 1;
            }
            out.push((key, line[start..i].to_owned()));
        }
    }
}

/// A quoted value at the start of `s`: its text and the bytes it took.
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                c @ ('"' | '\\' | '/') => out.push(c),
                'u' => {
                    let hex: String = (0..4).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// go-logfmt's `MarshalKeyvals`: invalid key characters dropped, values
/// quoted when they hold a space, `=`, a quote or a control character.
pub fn marshal(pairs: &Pairs) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        let key: String = k.chars().filter(|c| *c > ' ' && *c != '=' && *c != '"').collect();
        if key.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&key);
        out.push('=');
        if v.chars().any(|c| c <= ' ' || c == '=' || c == '"' || c == '\u{fffd}') {
            out.push('"');
            for c in v.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        } else {
            out.push_str(v);
        }
    }
    out
}
