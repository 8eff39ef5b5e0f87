//! Failed spans and error logs as parameter rows for multi-row
//! `INSERT ... ON DUPLICATE KEY UPDATE` statements: values bound as
//! parameters (never spliced into SQL), strings cut to their column size on
//! a character boundary, timestamps as UTC `DATETIME(6)`.

use mysql_async::Value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::exporters::failure::{ErrorLog, FailedSpan};
use crate::failure_store::schema::limits;

pub const SPAN_COLUMNS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "service_name",
    "span_name",
    "span_kind",
    "start_time",
    "end_time",
    "duration_ms",
    "status_code",
    "status_message",
    "exception_type",
    "exception_message",
    "exception_stacktrace",
    "resource_attributes",
    "span_attributes",
];

pub const LOG_COLUMNS: &[&str] = &[
    "record_hash",
    "time",
    "observed_time",
    "service_name",
    "scope_name",
    "severity_number",
    "severity_text",
    "body",
    "trace_id",
    "span_id",
    "attributes",
    "resource_attributes",
];

/// `INSERT INTO table (cols) VALUES (?, ...), ... ON DUPLICATE KEY UPDATE`
/// with a no-op update: a row already stored (a retry or a replay) is kept
/// as it is and counts nothing, unlike `INSERT IGNORE`, which would also
/// turn real errors into warnings.
pub fn insert_sql(table: &str, columns: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    let values = vec![one; rows].join(",");
    format!("INSERT INTO {table} ({}) VALUES {values} ON DUPLICATE KEY UPDATE id = id", columns.join(","))
}

pub fn span_row(s: &FailedSpan) -> Vec<Value> {
    vec![
        text(&s.trace_id),
        text(&s.span_id),
        opt_text(&s.parent_span_id, 16),
        text(truncate_chars(&s.service_name, limits::SERVICE)),
        text(truncate_chars(&s.span_name, limits::SPAN_NAME)),
        text(s.span_kind),
        datetime(s.start_unix_nano),
        datetime(s.end_unix_nano),
        Value::Double(s.duration_ms()),
        text(s.status_code),
        opt_bytes(&s.status_message, limits::TEXT_BYTES),
        opt_text(&s.exception_type, limits::EXCEPTION_TYPE),
        opt_bytes(&s.exception_message, limits::TEXT_BYTES),
        opt_bytes(&s.exception_stacktrace, limits::LONG_BYTES),
        json(&s.resource_attributes),
        json(&s.span_attributes),
    ]
}

pub fn log_row(l: &ErrorLog) -> Vec<Value> {
    vec![
        text(&record_hash(l)),
        datetime(l.time_unix_nano),
        if l.observed_unix_nano == 0 { Value::NULL } else { datetime(l.observed_unix_nano) },
        text(truncate_chars(&l.service_name, limits::SERVICE)),
        opt_text(&l.scope_name, limits::SERVICE),
        Value::Int(l.severity_number.clamp(0, 255) as i64),
        opt_text(&l.severity_text, limits::SEVERITY_TEXT),
        opt_bytes(&l.body, limits::LONG_BYTES),
        opt_text(&l.trace_id, 32),
        opt_text(&l.span_id, 16),
        json(&l.attributes),
        json(&l.resource_attributes),
    ]
}

/// The idempotency key of a log record: sha256 over everything that
/// identifies it, before any truncation.
pub fn record_hash(l: &ErrorLog) -> String {
    let mut h = Sha256::new();
    let fields = serde_json::json!([
        l.time_unix_nano,
        l.observed_unix_nano,
        l.service_name,
        l.scope_name,
        l.severity_number,
        l.severity_text,
        l.body,
        l.trace_id,
        l.span_id,
        l.attributes,
        l.resource_attributes,
    ]);
    h.update(fields.to_string().as_bytes());
    const_hex::encode(h.finalize())
}

/// The approximate bytes a row adds to a statement, to keep each statement
/// under `max_allowed_packet`.
pub fn row_bytes(row: &[Value]) -> usize {
    row.iter()
        .map(|v| match v {
            Value::Bytes(b) => b.len() + 4,
            _ => 12,
        })
        .sum()
}

fn text(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn opt_text(s: &str, max_chars: usize) -> Value {
    if s.is_empty() {
        Value::NULL
    } else {
        text(truncate_chars(s, max_chars))
    }
}

fn opt_bytes(s: &str, max_bytes: usize) -> Value {
    if s.is_empty() {
        Value::NULL
    } else {
        text(truncate_bytes(s, max_bytes))
    }
}

fn json(v: &Json) -> Value {
    Value::Bytes(cap_strings(v).to_string().into_bytes())
}

/// Attribute JSON with each string value cut to its limit, so the column
/// still holds valid JSON.
fn cap_strings(v: &Json) -> Json {
    match v {
        Json::String(s) if s.len() > limits::ATTRIBUTE_VALUE_BYTES => {
            Json::String(truncate_bytes(s, limits::ATTRIBUTE_VALUE_BYTES).to_owned())
        }
        Json::Array(a) => Json::Array(a.iter().map(cap_strings).collect()),
        Json::Object(o) => Json::Object(o.iter().map(|(k, v)| (k.clone(), cap_strings(v))).collect()),
        other => other.clone(),
    }
}

/// At most `max` characters (VARCHAR sizes count characters).
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// At most `max` bytes, cut on a character boundary (TEXT sizes count bytes).
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Unix nanoseconds as a `DATETIME(6)` value in UTC (microseconds kept).
pub fn datetime(unix_nano: u64) -> Value {
    let secs = unix_nano / 1_000_000_000;
    let micros = ((unix_nano % 1_000_000_000) / 1_000) as u32;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    Value::Date(y as u16, m as u8, d as u8, (rem / 3600) as u8, (rem % 3600 / 60) as u8, (rem % 60) as u8, micros)
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("hé", 5), "hé");
        let s = "aé"; // 'é' is two bytes
        assert_eq!(truncate_bytes(s, 2), "a");
        assert_eq!(truncate_bytes("🙂🙂", 5), "🙂");
    }

    #[test]
    fn datetimes_are_utc() {
        // 2024-02-29T12:34:56.789012345Z
        assert_eq!(datetime(1_709_210_096_789_012_345), Value::Date(2024, 2, 29, 12, 34, 56, 789_012));
        assert_eq!(datetime(0), Value::Date(1970, 1, 1, 0, 0, 0, 0));
    }

    #[test]
    fn multi_row_statement_has_one_placeholder_per_value() {
        let sql = insert_sql("failed_spans", SPAN_COLUMNS, 3);
        assert_eq!(sql.matches('?').count(), 3 * SPAN_COLUMNS.len());
        assert!(sql.ends_with("ON DUPLICATE KEY UPDATE id = id"));
    }

    #[test]
    fn long_attribute_strings_are_capped_and_json_stays_valid() {
        let v = serde_json::json!({"big": "é".repeat(limits::ATTRIBUTE_VALUE_BYTES), "n": 1});
        let Value::Bytes(b) = json(&v) else { panic!() };
        let back: Json = serde_json::from_slice(&b).unwrap();
        assert_eq!(back["big"].as_str().unwrap().len(), limits::ATTRIBUTE_VALUE_BYTES);
        assert_eq!(back["n"], 1);
    }
}
