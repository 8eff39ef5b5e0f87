use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

use super::*;

fn v(k: Kind) -> AnyValue {
    AnyValue { value: Some(k) }
}

fn kv(k: &str, value: Kind) -> KeyValue {
    KeyValue { key: k.into(), value: Some(v(value)), ..Default::default() }
}

/// pdata's `TestValueAsString` cases (pdata/pcommon/value_test.go).
#[test]
fn values_are_written_as_pdata_writes_them() {
    let array =
        Kind::ArrayValue(ArrayValue { values: vec![v(Kind::StringValue("strVal".into())), v(Kind::IntValue(7))] });
    let map =
        Kind::KvlistValue(KeyValueList { values: vec![kv("arr", array.clone()), kv("b", Kind::BoolValue(true))] });
    for (value, want) in [
        (Kind::StringValue("string value".into()), "string value"),
        (Kind::BoolValue(true), "true"),
        (Kind::DoubleValue(1.2), "1.2"),
        (Kind::DoubleValue(0.0), "0"),
        (Kind::DoubleValue(1e21), "1e+21"),
        (Kind::DoubleValue(1e-7), "1e-7"),
        (Kind::DoubleValue(123456.5), "123456.5"),
        (Kind::IntValue(-1234), "-1234"),
        (Kind::BytesValue(vec![96, 97, 98, 99]), "YGFiYw=="),
        (array, r#"["strVal",7]"#),
        (map, r#"{"arr":["strVal",7],"b":true}"#),
    ] {
        assert_eq!(as_string(&v(value.clone())), want, "{value:?}");
    }
    assert_eq!(as_string(&AnyValue { value: None }), "");
}

#[test]
fn renders_like_pdata() {
    assert_eq!(as_string(&v(Kind::DoubleValue(1.0))), "1");
    assert_eq!(as_string(&v(Kind::DoubleValue(1.23))), "1.23");
    assert_eq!(as_string(&v(Kind::BytesValue(vec![1, 2, 3, 4]))), "AQIDBA==");
    let map = v(Kind::KvlistValue(KeyValueList {
        values: vec![kv("z", Kind::IntValue(1)), kv("a", Kind::StringValue("<b>".into()))],
    }));
    assert_eq!(as_string(&map), r#"{"a":"\u003cb\u003e","z":1}"#);
    let arr = v(Kind::ArrayValue(ArrayValue { values: vec![v(Kind::IntValue(123))] }));
    assert_eq!(as_string(&arr), "[123]");
    assert_eq!(as_string(&v(Kind::KvlistValue(KeyValueList::default()))), "{}");
    assert_eq!(as_json(&v(Kind::DoubleValue(1e21))), "1e+21");
    // Go's encoder writes e-7, not e-07 (encoding/json cleans up the padding)
    assert_eq!(as_json(&v(Kind::DoubleValue(2.5e-7))), "2.5e-7");
}

/// `float64AsString`: exponent form only below 1e-6 and from 1e21, no zero
/// padding; NaN and infinities as Go's JSON encoder error.
#[test]
fn doubles_follow_float64_as_string() {
    for (d, want) in [
        (1e20, "100000000000000000000"),
        (-1e21, "-1e+21"),
        (1e-6, "0.000001"),
        (9.99e-7, "9.99e-7"),
        (1.5e-100, "1.5e-100"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (0.1 + 0.2, "0.30000000000000004"),
        (-0.0, "-0"),
        (f64::NAN, "json: unsupported value: NaN"),
        (f64::INFINITY, "json: unsupported value: +Inf"),
        (f64::NEG_INFINITY, "json: unsupported value: -Inf"),
    ] {
        assert_eq!(as_string(&v(Kind::DoubleValue(d))), want, "{d:?}");
    }
}

/// Inside a map or slice a double is a Go JSON number; one that Go cannot
/// encode makes pdata's `AsString` of the whole value empty.
#[test]
fn nested_doubles_are_json_numbers_and_nan_empties_the_value() {
    let arr = v(Kind::ArrayValue(ArrayValue { values: vec![v(Kind::DoubleValue(1e-7)), v(Kind::DoubleValue(2.0))] }));
    assert_eq!(as_string(&arr), "[1e-7,2]");
    let nan = v(Kind::KvlistValue(KeyValueList { values: vec![kv("x", Kind::DoubleValue(f64::NAN))] }));
    assert_eq!(as_string(&nan), "");
    assert_eq!(as_json(&nan), r#"{"x":"NaN"}"#);
}

#[test]
fn attribute_lists_are_json_objects_with_sorted_keys_and_last_duplicate_winning() {
    let attrs =
        [kv("b", Kind::IntValue(1)), kv("a", Kind::StringValue("x\u{2028}&".into())), kv("b", Kind::BoolValue(false))];
    assert_eq!(attributes_json(&attrs), r#"{"a":"x\u2028\u0026","b":false}"#);
    let mut out = String::new();
    write_str("<tag>", &mut out);
    assert_eq!(out, r#""\u003ctag\u003e""#);
}
