//! OTLP attribute values rendered the way otelcol's pdata renders them
//! (`pcommon.Value.AsString()` and `json.Marshal(Value.AsRaw())`), byte for
//! byte: the one rendering every translation uses (Prometheus labels, Jaeger
//! tags, Loki lines and labels, spanmetrics dimensions, the attribute actions'
//! `convert`), so a value reads the same whichever backend it reaches.

use std::collections::BTreeMap;

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// pdata's `AsString`: strings as they are, doubles as ECMAScript writes
/// them, bytes as base64, maps and slices as Go's `encoding/json` writes
/// them, an empty value as "". A map or slice holding NaN or an infinity is
/// "", as in pdata, where `json.Marshal` refuses it.
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(Kind::StringValue(s)) => s.clone(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(Kind::IntValue(i)) => i.to_string(),
        Some(Kind::DoubleValue(d)) => float_string(*d),
        Some(Kind::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        // an index into a profiles dictionary this crate does not hold
        Some(Kind::StringValueStrindex(i)) => i.to_string(),
        Some(Kind::ArrayValue(_) | Kind::KvlistValue(_)) if has_non_finite(v) => String::new(),
        Some(Kind::ArrayValue(_) | Kind::KvlistValue(_)) => as_json(v),
    }
}

/// `json.Marshal(value.AsRaw())`: Go's encoder, keys sorted, HTML characters
/// escaped. Go refuses NaN and infinities; here they are written as strings
/// so that a log line still carries them.
pub fn as_json(v: &AnyValue) -> String {
    let mut out = String::new();
    write_json(v, &mut out);
    out
}

/// `json.Marshal(map.AsRaw())` for an attribute list (last duplicate wins, as in a Go map).
pub fn attributes_json(attrs: &[KeyValue]) -> String {
    let mut out = String::new();
    write_map(attrs, &mut out);
    out
}

/// A JSON string as Go's `encoding/json` writes it (`<`, `>`, `&`, U+2028/9 escaped).
pub fn write_str(s: &str, out: &mut String) {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

fn write_json(v: &AnyValue, out: &mut String) {
    match &v.value {
        None => out.push_str("null"),
        Some(Kind::StringValue(s)) => write_str(s, out),
        Some(Kind::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Kind::IntValue(i)) => out.push_str(&i.to_string()),
        Some(Kind::StringValueStrindex(i)) => out.push_str(&i.to_string()),
        Some(Kind::DoubleValue(d)) if d.is_finite() => out.push_str(&es6_number(*d)),
        Some(Kind::DoubleValue(d)) => write_str(&d.to_string(), out),
        Some(Kind::BytesValue(b)) => write_str(&base64::engine::general_purpose::STANDARD.encode(b), out),
        Some(Kind::ArrayValue(a)) => {
            out.push('[');
            for (i, item) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Some(Kind::KvlistValue(kv)) => write_map(&kv.values, out),
    }
}

fn write_map(attrs: &[KeyValue], out: &mut String) {
    let mut sorted: BTreeMap<&str, Option<&AnyValue>> = BTreeMap::new();
    for kv in attrs {
        sorted.insert(&kv.key, kv.value.as_ref());
    }
    out.push('{');
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(k, out);
        out.push(':');
        match v {
            Some(v) => write_json(v, out),
            None => out.push_str("null"),
        }
    }
    out.push('}');
}

fn has_non_finite(v: &AnyValue) -> bool {
    match &v.value {
        Some(Kind::DoubleValue(d)) => !d.is_finite(),
        Some(Kind::ArrayValue(a)) => a.values.iter().any(has_non_finite),
        Some(Kind::KvlistValue(kv)) => kv.values.iter().filter_map(|kv| kv.value.as_ref()).any(has_non_finite),
        _ => false,
    }
}

/// pdata's `float64AsString`: a finite double as ECMAScript writes it, an
/// infinity or NaN as the error Go's JSON encoder gives for it.
fn float_string(d: f64) -> String {
    if d.is_nan() {
        "json: unsupported value: NaN".into()
    } else if d.is_infinite() {
        format!("json: unsupported value: {}", if d > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        es6_number(d)
    }
}

/// A finite double as ECMAScript (and Go's `encoding/json`) writes it: the
/// shortest digits that read back the same, plain below 1e21 and from 1e-6,
/// exponent form outside that with no zero padding (`1e+21`, `2.5e-7`).
fn es6_number(d: f64) -> String {
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
#[path = "pdata_tests.rs"]
mod tests;
