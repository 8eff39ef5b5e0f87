//! OTLP attribute values rendered the way otelcol's pdata renders them, for
//! the exporters that translate OTLP into another model (`jaeger`, `loki`):
//! `Value.AsString()` and `json.Marshal(Value.AsRaw())`, byte for byte.

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Kind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};

/// pdata's `AsString`: strings as they are, bytes as base64, maps and
/// slices as JSON, an empty value as "".
pub fn as_string(v: &AnyValue) -> String {
    match &v.value {
        None => String::new(),
        Some(Kind::StringValue(s)) => s.clone(),
        Some(Kind::BoolValue(b)) => b.to_string(),
        Some(Kind::IntValue(i)) => i.to_string(),
        Some(Kind::DoubleValue(d)) => go_float(*d),
        Some(Kind::BytesValue(b)) => base64::engine::general_purpose::STANDARD.encode(b),
        Some(Kind::StringValueStrindex(i)) => i.to_string(),
        Some(Kind::ArrayValue(_) | Kind::KvlistValue(_)) => as_json(v),
    }
}

/// `json.Marshal(value.AsRaw())`: Go's encoder, keys sorted, HTML characters escaped.
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

fn write_json(v: &AnyValue, out: &mut String) {
    match &v.value {
        None => out.push_str("null"),
        Some(Kind::StringValue(s)) => write_str(s, out),
        Some(Kind::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Kind::IntValue(i)) => out.push_str(&i.to_string()),
        Some(Kind::StringValueStrindex(i)) => out.push_str(&i.to_string()),
        Some(Kind::DoubleValue(d)) if d.is_finite() => out.push_str(&go_json_float(*d)),
        // Go's encoder refuses NaN and Inf; pdata users see the error, we write the text
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
    let mut sorted: std::collections::BTreeMap<&str, Option<&AnyValue>> = Default::default();
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

/// `strconv.FormatFloat(d, 'f', -1, 64)`, what pdata's `AsString` uses.
fn go_float(d: f64) -> String {
    if d.is_nan() {
        "NaN".into()
    } else if d.is_infinite() {
        if d > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{d}")
    }
}

/// Go's JSON float: shortest form, exponent only outside [1e-6, 1e21).
fn go_json_float(d: f64) -> String {
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{d:e}");
        // Go writes e-07 / e+21
        match s.split_once('e') {
            Some((m, e)) => {
                let (sign, digits) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                format!("{m}e{sign}{digits:0>2}")
            }
            None => s,
        }
    } else {
        format!("{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn v(k: Kind) -> AnyValue {
        AnyValue { value: Some(k) }
    }

    #[test]
    fn renders_like_pdata() {
        assert_eq!(as_string(&v(Kind::DoubleValue(1.0))), "1");
        assert_eq!(as_string(&v(Kind::DoubleValue(1.23))), "1.23");
        assert_eq!(as_string(&v(Kind::BytesValue(vec![1, 2, 3, 4]))), "AQIDBA==");
        let map = v(Kind::KvlistValue(KeyValueList {
            values: vec![
                KeyValue { key: "z".into(), value: Some(v(Kind::IntValue(1))), ..Default::default() },
                KeyValue { key: "a".into(), value: Some(v(Kind::StringValue("<b>".into()))), ..Default::default() },
            ],
        }));
        assert_eq!(as_string(&map), r#"{"a":"\u003cb\u003e","z":1}"#);
        let arr = v(Kind::ArrayValue(ArrayValue { values: vec![v(Kind::IntValue(123))] }));
        assert_eq!(as_string(&arr), "[123]");
        assert_eq!(as_string(&v(Kind::KvlistValue(KeyValueList::default()))), "{}");
        assert_eq!(as_json(&v(Kind::DoubleValue(1e21))), "1e+21");
        assert_eq!(as_json(&v(Kind::DoubleValue(2.5e-7))), "2.5e-07");
    }
}
