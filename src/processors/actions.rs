//! Attribute actions shared by the `resource` and `attributes` processors
//! (otelcol's `attraction`): insert, update, upsert, delete, hash, extract and
//! convert, applied in the configured order to one attribute list.

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::component::{BuildResult, Invalid};
use crate::otlp::pdata;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Insert,
    Update,
    Upsert,
    Delete,
    Hash,
    Extract,
    Convert,
}

/// Why `from_context` is refused: the value would come from the request's
/// client metadata (headers, auth), which otelstack's receivers do not keep.
pub const FROM_CONTEXT: &str = "is not supported: client metadata (request headers, authenticated \
     identity) is not carried through the pipeline here, as include_metadata is not supported; \
     set the value with value or from_attribute instead";

/// One entry of `actions:` (or the resource processor's `attributes:`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    pub key: Option<String>,
    pub action: ActionKind,
    pub value: Option<Value>,
    pub from_attribute: Option<String>,
    /// refused: request metadata is not carried through the pipeline here
    pub from_context: Option<String>,
    /// used when `value` is an empty string (an unset `${env}`) or the
    /// `from_attribute` source is missing, as otelcol-contrib's attraction
    pub default_value: Option<Value>,
    pub pattern: Option<String>,
    pub converted_type: Option<String>,
}

/// A validated action, ready to run.
#[derive(Debug, Clone)]
pub struct Action {
    key: Option<String>,
    kind: ActionKind,
    value: Option<AnyValue>,
    from_attribute: Option<String>,
    default_value: Option<AnyValue>,
    pattern: Option<Regex>,
    converted_type: Option<ConvertTo>,
}

#[derive(Debug, Clone, Copy)]
enum ConvertTo {
    Int,
    Double,
    String,
}

/// Checks one action's settings; the error names the problem in plain words.
pub fn compile(cfg: &ActionConfig) -> Result<Action, String> {
    use ActionKind::*;
    if let Some(from) = &cfg.from_context {
        return Err(format!("from_context {from:?} {FROM_CONTEXT}"));
    }
    let pattern = match &cfg.pattern {
        Some(p) => Some(Regex::new(p).map_err(|e| format!("invalid pattern {p:?}: {e}"))?),
        None => None,
    };
    let needs_key = !matches!(cfg.action, Delete | Hash) || pattern.is_none();
    if needs_key && cfg.key.as_deref().is_none_or(str::is_empty) {
        return Err(format!("action {:?} needs a key", cfg.action));
    }
    match cfg.action {
        Insert | Update | Upsert => {
            if cfg.value.is_none() && cfg.from_attribute.is_none() {
                return Err(format!(
                    "action {:?} on {:?} needs value or from_attribute",
                    cfg.action,
                    cfg.key.as_deref().unwrap_or_default()
                ));
            }
        }
        Extract => match &pattern {
            Some(re) if re.capture_names().flatten().next().is_some() => {}
            Some(_) => return Err("extract needs a pattern with named groups, like ^/api/(?P<version>.*)/".into()),
            None => return Err("extract needs a pattern".into()),
        },
        Convert => {}
        Delete | Hash => {}
    }
    let converted_type = match (cfg.action, cfg.converted_type.as_deref()) {
        (Convert, Some("int")) => Some(ConvertTo::Int),
        (Convert, Some("double")) => Some(ConvertTo::Double),
        (Convert, Some("string")) => Some(ConvertTo::String),
        (Convert, other) => return Err(format!("convert needs converted_type int, double or string (got {other:?})")),
        _ => None,
    };
    Ok(Action {
        key: cfg.key.clone(),
        kind: cfg.action,
        value: cfg.value.as_ref().map(json_to_any),
        from_attribute: cfg.from_attribute.clone(),
        default_value: cfg.default_value.as_ref().map(json_to_any),
        pattern,
        converted_type,
    })
}

/// Compiles a validated list of actions.
pub fn compile_all(list: &[ActionConfig], field: &str) -> BuildResult<Vec<Action>> {
    list.iter().enumerate().map(|(i, a)| compile(a).map_err(|e| anyhow::anyhow!("{field}.{i}: {e}"))).collect()
}

/// Every action must compile; the error names the failing entry.
pub fn validate_actions(list: &[ActionConfig], field: &str) -> Result<(), Invalid> {
    if list.is_empty() {
        return Err(Invalid::at(field, "at least one action is required"));
    }
    for (i, a) in list.iter().enumerate() {
        compile(a).map_err(|e| Invalid::at(format!("{field}.{i}"), e))?;
    }
    Ok(())
}

/// A config value as an attribute value (YAML ints stay ints, lists become arrays).
pub fn json_to_any(v: &Value) -> AnyValue {
    let kind = match v {
        Value::Null => None,
        Value::Bool(b) => Some(AnyValueKind::BoolValue(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Some(AnyValueKind::IntValue(i)),
            None => Some(AnyValueKind::DoubleValue(n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => Some(AnyValueKind::StringValue(s.clone())),
        Value::Array(a) => Some(AnyValueKind::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
            values: a.iter().map(json_to_any).collect(),
        })),
        Value::Object(o) => Some(AnyValueKind::KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
            values: o
                .iter()
                .map(|(k, v)| KeyValue { key: k.clone(), value: Some(json_to_any(v)), ..Default::default() })
                .collect(),
        })),
    };
    AnyValue { value: kind }
}

fn find(attrs: &[KeyValue], key: &str) -> Option<usize> {
    attrs.iter().position(|kv| kv.key == key)
}

fn set(attrs: &mut Vec<KeyValue>, key: &str, value: AnyValue) {
    match find(attrs, key) {
        Some(i) => attrs[i].value = Some(value),
        None => attrs.push(KeyValue { key: key.to_owned(), value: Some(value), ..Default::default() }),
    }
}

impl Action {
    pub fn apply(&self, attrs: &mut Vec<KeyValue>) {
        let key = self.key.as_deref().unwrap_or_default();
        match self.kind {
            ActionKind::Insert | ActionKind::Update | ActionKind::Upsert => {
                let empty = |v: &AnyValue| matches!(&v.value, Some(AnyValueKind::StringValue(s)) if s.is_empty());
                let value = match (&self.value, &self.from_attribute) {
                    (Some(v), _) if empty(v) && self.default_value.is_some() => self.default_value.clone(),
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(from)) => {
                        find(attrs, from).and_then(|i| attrs[i].value.clone()).or_else(|| self.default_value.clone())
                    }
                    (None, None) => None,
                };
                let Some(value) = value else { return };
                let exists = find(attrs, key).is_some();
                let go = match self.kind {
                    ActionKind::Insert => !exists,
                    ActionKind::Update => exists,
                    _ => true,
                };
                if go {
                    set(attrs, key, value);
                }
            }
            ActionKind::Delete => attrs.retain(|kv| !self.matches(&kv.key)),
            ActionKind::Hash => {
                for kv in attrs.iter_mut().filter(|kv| self.matches(&kv.key)) {
                    if let Some(bytes) = kv.value.as_ref().and_then(hash_input) {
                        let digest = const_hex::encode(Sha256::digest(&bytes));
                        kv.value = Some(AnyValue { value: Some(AnyValueKind::StringValue(digest)) });
                    }
                }
            }
            ActionKind::Extract => {
                let Some(re) = &self.pattern else { return };
                let Some(source) = find(attrs, key).and_then(|i| match &attrs[i].value {
                    Some(AnyValue { value: Some(AnyValueKind::StringValue(s)) }) => Some(s.clone()),
                    _ => None,
                }) else {
                    return;
                };
                if let Some(caps) = re.captures(&source) {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            set(
                                attrs,
                                name,
                                AnyValue { value: Some(AnyValueKind::StringValue(m.as_str().to_owned())) },
                            );
                        }
                    }
                }
            }
            ActionKind::Convert => {
                let Some(i) = find(attrs, key) else { return };
                let Some(v) = &attrs[i].value else { return };
                if let Some(converted) = convert(v, self.converted_type.expect("validated")) {
                    attrs[i].value = Some(converted);
                }
            }
        }
    }

    fn matches(&self, k: &str) -> bool {
        self.key.as_deref() == Some(k) || self.pattern.as_ref().is_some_and(|re| re.is_match(k))
    }
}

/// The bytes otelcol's attraction hashes: a string's bytes, an int or
/// double as 8 little-endian bytes, a bool as one byte.
fn hash_input(v: &AnyValue) -> Option<Vec<u8>> {
    match &v.value {
        Some(AnyValueKind::StringValue(s)) => Some(s.as_bytes().to_vec()),
        Some(AnyValueKind::IntValue(i)) => Some(i.to_le_bytes().to_vec()),
        Some(AnyValueKind::DoubleValue(d)) => Some(d.to_bits().to_le_bytes().to_vec()),
        Some(AnyValueKind::BoolValue(b)) => Some(vec![u8::from(*b)]),
        _ => None,
    }
}

/// Converts like otelcol: values that cannot be converted are left as they are.
fn convert(v: &AnyValue, to: ConvertTo) -> Option<AnyValue> {
    let out = match (to, &v.value) {
        (ConvertTo::String, Some(_)) => AnyValueKind::StringValue(pdata::as_string(v)),
        (ConvertTo::Int, Some(AnyValueKind::StringValue(s))) => AnyValueKind::IntValue(s.trim().parse().ok()?),
        (ConvertTo::Int, Some(AnyValueKind::DoubleValue(d))) => AnyValueKind::IntValue(*d as i64),
        (ConvertTo::Int, Some(AnyValueKind::BoolValue(b))) => AnyValueKind::IntValue(i64::from(*b)),
        (ConvertTo::Double, Some(AnyValueKind::StringValue(s))) => AnyValueKind::DoubleValue(s.trim().parse().ok()?),
        (ConvertTo::Double, Some(AnyValueKind::IntValue(i))) => AnyValueKind::DoubleValue(*i as f64),
        (ConvertTo::Double, Some(AnyValueKind::BoolValue(b))) => AnyValueKind::DoubleValue(f64::from(u8::from(*b))),
        _ => return None,
    };
    Some(AnyValue { value: Some(out) })
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
