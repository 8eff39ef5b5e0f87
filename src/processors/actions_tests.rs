use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

use super::*;
use crate::testkit::{kv, s};

fn action(yaml: serde_json::Value) -> Action {
    compile(&serde_json::from_value::<ActionConfig>(yaml).unwrap()).unwrap()
}

fn get(attrs: &[KeyValue], key: &str) -> Option<V> {
    attrs.iter().find(|a| a.key == key).and_then(|a| a.value.clone()).and_then(|v| v.value)
}

fn base() -> Vec<KeyValue> {
    vec![kv("env", s("dev")), kv("user.id", s("alice")), kv("http.url", s("/api/v2/users/42")), kv("code", s("404"))]
}

#[test]
fn insert_update_upsert() {
    let mut a = base();
    action(serde_json::json!({"key": "env", "value": "prod", "action": "insert"})).apply(&mut a);
    assert_eq!(get(&a, "env"), Some(s("dev")), "insert leaves an existing key alone");
    action(serde_json::json!({"key": "region", "value": "eu", "action": "insert"})).apply(&mut a);
    assert_eq!(get(&a, "region"), Some(s("eu")));
    action(serde_json::json!({"key": "missing", "value": 1, "action": "update"})).apply(&mut a);
    assert_eq!(get(&a, "missing"), None, "update does not create");
    action(serde_json::json!({"key": "env", "value": 7, "action": "update"})).apply(&mut a);
    assert_eq!(get(&a, "env"), Some(V::IntValue(7)));
    action(serde_json::json!({"key": "copy", "from_attribute": "user.id", "action": "upsert"})).apply(&mut a);
    assert_eq!(get(&a, "copy"), Some(s("alice")));
    action(serde_json::json!({"key": "flag", "value": true, "action": "upsert"})).apply(&mut a);
    assert_eq!(get(&a, "flag"), Some(V::BoolValue(true)));
}

#[test]
fn delete_hash_extract_convert() {
    let mut a = base();
    action(serde_json::json!({"key": "env", "action": "delete"})).apply(&mut a);
    assert_eq!(get(&a, "env"), None);
    action(serde_json::json!({"key": "user.id", "action": "hash"})).apply(&mut a);
    assert_eq!(
        get(&a, "user.id"),
        Some(s("2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90")),
        "sha256(alice)"
    );
    let mut ints = vec![kv("n", V::IntValue(12345))];
    action(serde_json::json!({"key": "n", "action": "hash"})).apply(&mut ints);
    let expected = const_hex::encode(<Sha256 as Digest>::digest(12345i64.to_le_bytes()));
    assert_eq!(get(&ints, "n"), Some(s(&expected)), "ints hash as 8 little-endian bytes, as otelcol does");
    let mut ints = vec![kv("n", V::IntValue(12345))];
    action(serde_json::json!({"key": "n", "action": "hash"})).apply(&mut ints);
    let expected = const_hex::encode(<Sha256 as Digest>::digest(12345i64.to_le_bytes()));
    assert_eq!(get(&ints, "n"), Some(s(&expected)), "ints hash as 8 little-endian bytes, as otelcol does");
    action(serde_json::json!({"key": "http.url", "pattern": "^/api/(?P<api_version>v\\d+)/users/(?P<user_num>\\d+)$", "action": "extract"})).apply(&mut a);
    assert_eq!(get(&a, "api_version"), Some(s("v2")));
    assert_eq!(get(&a, "user_num"), Some(s("42")));
    action(serde_json::json!({"key": "code", "converted_type": "int", "action": "convert"})).apply(&mut a);
    assert_eq!(get(&a, "code"), Some(V::IntValue(404)));
    action(serde_json::json!({"key": "user_num", "converted_type": "double", "action": "convert"})).apply(&mut a);
    assert_eq!(get(&a, "user_num"), Some(V::DoubleValue(42.0)));
    action(serde_json::json!({"pattern": "^api_", "action": "delete"})).apply(&mut a);
    assert_eq!(get(&a, "api_version"), None);
}

#[test]
fn invalid_actions_say_what_is_missing() {
    let err = |v: serde_json::Value| compile(&serde_json::from_value::<ActionConfig>(v).unwrap()).unwrap_err();
    assert!(err(serde_json::json!({"key": "a", "action": "insert"})).contains("needs value or from_attribute"));
    let from_context = err(serde_json::json!({"key": "tenant", "action": "upsert", "from_context": "auth.tenant"}));
    assert!(
        from_context.starts_with("from_context \"auth.tenant\" is not supported: client metadata"),
        "{from_context}"
    );
    assert!(from_context.contains("set the value with value or from_attribute"), "{from_context}");
    assert!(err(serde_json::json!({"action": "upsert", "value": 1})).contains("needs a key"));
    assert!(err(serde_json::json!({"key": "a", "action": "extract", "pattern": "no groups"})).contains("named groups"));
    assert!(
        err(serde_json::json!({"key": "a", "action": "convert", "converted_type": "bool"})).contains("converted_type")
    );
    assert!(err(serde_json::json!({"key": "a", "action": "delete", "pattern": "("})).contains("invalid pattern"));
}

#[test]
fn default_value_fills_an_empty_value_or_a_missing_source() {
    let mut a = vec![kv("namespace", s("shop"))];
    action(serde_json::json!({"key": "env", "value": "", "default_value": "development", "action": "upsert"}))
        .apply(&mut a);
    assert_eq!(get(&a, "env"), Some(s("development")));
    action(serde_json::json!({"key": "env", "value": "prod", "default_value": "development", "action": "upsert"}))
        .apply(&mut a);
    assert_eq!(get(&a, "env"), Some(s("prod")));
    let from = |src: &str| serde_json::json!({"key": "ns", "from_attribute": src, "default_value": "default", "action": "insert"});
    action(from("namespace")).apply(&mut a);
    assert_eq!(get(&a, "ns"), Some(s("shop")));
    let mut b = Vec::new();
    action(from("missing")).apply(&mut b);
    assert_eq!(get(&b, "ns"), Some(s("default")));
    // without a default, an empty value is set as it is
    action(serde_json::json!({"key": "e", "value": "", "action": "upsert"})).apply(&mut b);
    assert_eq!(get(&b, "e"), Some(s("")));
}
