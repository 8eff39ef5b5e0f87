//! Zipkin v1 JSON mapping cases, after otelcol-contrib's
//! `pkg/translator/zipkin/zipkinv1/json_test.go` (core annotations to kind
//! and times, endpoints to resources, `lc` to `component`) and
//! `status_code_test.go` (status precedence).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::*;

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter().map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap())).collect()
}

const V1: &str = r#"[{
  "traceId": "0ed2e63cbe71f5a8", "name": "checkAvailability", "id": "0ed2e63cbe71f5a8",
  "parentId": "0000000000000001", "timestamp": 1544805927446743, "duration": 12956,
  "annotations": [
    {"timestamp": 1544805927446743, "value": "sr", "endpoint": {"serviceName": "service1", "ipv4": "172.31.0.4", "port": 8080}},
    {"timestamp": 1544805927450000, "value": "custom time event", "endpoint": {"serviceName": "service1"}},
    {"timestamp": 1544805927459699, "value": "ss", "endpoint": {"serviceName": "service1", "ipv4": "172.31.0.4", "port": 8080}}
  ],
  "binaryAnnotations": [
    {"key": "http.status_code", "value": "200"},
    {"key": "lc", "value": "spring"},
    {"key": "retries", "value": 3}
  ]
}, {
  "traceId": "0ed2e63cbe71f5a80ed2e63cbe71f5a8", "name": "call", "id": "0000000000000002",
  "annotations": [
    {"timestamp": 1544805927448081, "value": "cs", "endpoint": {"serviceName": "client"}},
    {"timestamp": 1544805927460102, "value": "cr", "endpoint": {"serviceName": "client"}}
  ],
  "binaryAnnotations": [{"key": "error", "value": "boom"}, {"key": "census.status_description", "value": "broken"}]
}]"#;

#[test]
fn core_annotations_give_kind_times_and_resource() {
    let rs = to_otlp(V1.as_bytes(), false).unwrap();
    assert_eq!(rs.len(), 2, "one resource per endpoint");
    let res = attrs(&rs[0].resource.as_ref().unwrap().attributes);
    let s = |v: &str| Value::StringValue(v.into());
    assert_eq!(
        res,
        [("service.name", s("service1")), ("ipv4", s("172.31.0.4")), ("port", s("8080"))]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    );
    let server = &rs[0].scope_spans[0].spans[0];
    assert_eq!(const_hex::encode(&server.trace_id), "00000000000000000ed2e63cbe71f5a8");
    assert_eq!(const_hex::encode(&server.parent_span_id), "0000000000000001");
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(
        (server.start_time_unix_nano, server.end_time_unix_nano),
        (1544805927446743000, (1544805927446743 + 12956) * 1000)
    );
    let events: Vec<_> = server.events.iter().map(|e| (e.name.as_str(), e.time_unix_nano)).collect();
    assert_eq!(events, vec![("custom time event", 1544805927450000000)]);
    let a = attrs(&server.attributes);
    assert_eq!(
        (a["component"].clone(), a["http.status_code"].clone(), a["retries"].clone()),
        (s("spring"), s("200"), s("3"))
    );
    assert!(server.status.is_none() || server.status.as_ref().unwrap().code == StatusCode::Unset as i32);

    let client = &rs[1].scope_spans[0].spans[0];
    assert_eq!(attrs(&rs[1].resource.as_ref().unwrap().attributes)["service.name"], s("client"));
    assert_eq!(const_hex::encode(&client.trace_id), "0ed2e63cbe71f5a80ed2e63cbe71f5a8");
    assert_eq!(client.kind, SpanKind::Client as i32);
    assert_eq!((client.start_time_unix_nano, client.end_time_unix_nano), (1544805927448081000, 1544805927460102000));
    assert_eq!(client.status.as_ref().unwrap(), &Status { code: StatusCode::Error as i32, message: "broken".into() });
    assert!(client.attributes.is_empty(), "status tags are consumed");
}

#[test]
fn status_precedence_and_parse_string_tags() {
    let body = r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "timestamp": 1, "binaryAnnotations": [
        {"key": "http.status_code", "value": "500"}, {"key": "otel.status_code", "value": "OK"}, {"key": "n", "value": "12"}]}]"#;
    let rs = to_otlp(body.as_bytes(), true).unwrap();
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!(
        span.status.as_ref().unwrap().code,
        StatusCode::Ok as i32,
        "otel.status_code wins over http.status_code"
    );
    assert_eq!(attrs(&span.attributes)["n"], Value::IntValue(12));
    assert_eq!(
        attrs(&rs[0].resource.as_ref().unwrap().attributes)["service.name"],
        Value::StringValue("unknown-service".into())
    );
}

#[test]
fn refuses_bad_ids_and_garbage() {
    for (body, want) in [
        ("{", "invalid Zipkin v1 JSON"),
        (r#"[{"traceId": "123", "id": "0000000000000001"}]"#, "traceId"),
        (r#"[{"traceId": "0000000000000001", "id": "01"}]"#, "id"),
        (r#"[{"traceId": "0000000000000000", "id": "0000000000000001"}]"#, "zero"),
        (r#"[{"traceId": "0000000000000001", "id": "0000000000000001", "parentId": "zz"}]"#, "parentId"),
    ] {
        let err = to_otlp(body.as_bytes(), false).unwrap_err();
        assert!(err.contains(want), "{body}: {err}");
    }
}

#[test]
fn a_span_without_any_time_is_stamped_and_flagged() {
    let rs = to_otlp(br#"[{"traceId": "0000000000000001", "id": "0000000000000001"}]"#, false).unwrap();
    let span = &rs[0].scope_spans[0].spans[0];
    assert!(span.start_time_unix_nano > 0 && span.start_time_unix_nano == span.end_time_unix_nano);
    assert_eq!(attrs(&span.attributes)[START_TIME_ABSENT], Value::BoolValue(true));
}
