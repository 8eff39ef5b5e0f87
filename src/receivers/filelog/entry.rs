//! A log entry as the operators see it (stanza's `entry.Entry`): a body,
//! attributes and resource as JSON-like values, a timestamp and severity,
//! and its conversion into an OTLP log record.

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::{Map, Value};

/// One log entry on its way through the operators.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    pub body: Value,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
    /// nanoseconds since the epoch, once a time parser set it
    pub timestamp: Option<u64>,
    pub observed: u64,
    /// 0 is "unspecified" (stanza's `default`)
    pub severity: i32,
    pub severity_text: String,
}

impl Entry {
    pub fn new(body: String, observed: u64) -> Entry {
        Entry { body: Value::String(body), observed, ..Default::default() }
    }

    /// The OTLP record (the resource is grouped by the caller).
    pub fn to_log_record(&self) -> LogRecord {
        LogRecord {
            time_unix_nano: self.timestamp.unwrap_or(0),
            observed_time_unix_nano: self.observed,
            severity_number: self.severity,
            severity_text: self.severity_text.clone(),
            body: if self.body.is_null() { None } else { Some(any_value(&self.body)) },
            attributes: key_values(&self.attributes),
            ..Default::default()
        }
    }
}

pub fn key_values(map: &Map<String, Value>) -> Vec<KeyValue> {
    map.iter().map(|(k, v)| KeyValue { key: k.clone(), value: Some(any_value(v)), ..Default::default() }).collect()
}

/// JSON-like values as OTLP's `AnyValue`: integers stay integers, other
/// numbers are doubles, maps become key-value lists.
pub fn any_value(v: &Value) -> AnyValue {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Some(any_value::Value::IntValue(i)),
            _ => Some(any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => Some(any_value::Value::StringValue(s.clone())),
        Value::Array(a) => Some(any_value::Value::ArrayValue(ArrayValue { values: a.iter().map(any_value).collect() })),
        Value::Object(m) => Some(any_value::Value::KvlistValue(KeyValueList { values: key_values(m) })),
    };
    AnyValue { value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_keep_their_types_in_otlp() {
        let e = Entry {
            body: json!({"msg": "hi", "n": 3, "f": 1.5, "ok": true, "l": [1]}),
            attributes: json!({"log.file.name": "a.log"}).as_object().unwrap().clone(),
            timestamp: Some(5),
            observed: 7,
            severity: 17,
            severity_text: "ERROR".into(),
            ..Default::default()
        };
        let r = e.to_log_record();
        assert_eq!((r.time_unix_nano, r.observed_time_unix_nano, r.severity_number), (5, 7, 17));
        assert_eq!(r.attributes[0].key, "log.file.name");
        let Some(any_value::Value::KvlistValue(kv)) = r.body.unwrap().value else { panic!("not a map") };
        let get = |k: &str| kv.values.iter().find(|x| x.key == k).unwrap().value.clone().unwrap().value.unwrap();
        assert_eq!(get("n"), any_value::Value::IntValue(3));
        assert_eq!(get("f"), any_value::Value::DoubleValue(1.5));
        assert_eq!(get("ok"), any_value::Value::BoolValue(true));
        assert_eq!(get("msg"), any_value::Value::StringValue("hi".into()));
        assert!(Entry::default().to_log_record().body.is_none());
    }
}
