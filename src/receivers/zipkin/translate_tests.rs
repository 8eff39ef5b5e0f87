//! Golden cases for the v2 mapping, after otelcol-contrib's
//! `pkg/translator/zipkin/zipkinv2/to_translator_test.go` and the receiver's
//! `testdata/sample4.json`.

use std::collections::BTreeMap;

use super::*;
use crate::receivers::zipkin::json;

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter().map(|kv| (kv.key.clone(), kv.value.clone().unwrap().value.unwrap())).collect()
}

fn s(v: &str) -> Value {
    Value::StringValue(v.into())
}

#[test]
fn sample4_maps_as_upstream() {
    let spans = json::parse(json::tests::SAMPLE4.as_bytes()).unwrap();
    let rs = to_otlp(spans, false).unwrap();
    assert_eq!(rs.len(), 1);
    assert!(rs[0].resource.as_ref().unwrap().attributes.is_empty(), "no local service name, no service.name");
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!(const_hex::encode(&span.trace_id), "4d1e00c0db9010db86154a4ba6e91385");
    assert_eq!(const_hex::encode(&span.span_id), "4d1e00c0db9010db");
    assert_eq!(const_hex::encode(&span.parent_span_id), "86154a4ba6e91385");
    assert_eq!((span.name.as_str(), span.kind), ("get", SpanKind::Client as i32));
    assert_eq!(span.start_time_unix_nano, 1472470996199000 * 1000);
    assert_eq!(span.end_time_unix_nano, (1472470996199000 + 207000) * 1000);
    let status = span.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "Non-basic error message"));
    let want: BTreeMap<String, Value> = [
        ("http.path", s("/api")),
        ("clnt/finagle.version", s("6.45.0")),
        ("net.host.ip", s("7::80:807f")),
        ("net.peer.ip", s("192.168.99.101")),
        ("net.peer.port", Value::IntValue(9000)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(attrs(&span.attributes), want);
    let events: Vec<(u64, &str)> = span.events.iter().map(|e| (e.time_unix_nano, e.name.as_str())).collect();
    assert_eq!(events, vec![(1472470996238000 * 1000, "foo"), (1472470996403000 * 1000, "bar")]);
}

fn span_with(service: &str, tags: &[(&str, &str)]) -> model::Span {
    model::Span {
        trace_id: [1; 16],
        id: [2; 8],
        local_endpoint: (!service.is_empty())
            .then(|| model::Endpoint { service_name: service.into(), ..Default::default() }),
        timestamp: 10,
        duration: 5,
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..Default::default()
    }
}

#[test]
fn groups_by_service_then_scope_and_moves_resource_tags() {
    let spans = vec![
        span_with("b", &[("otel.library.name", "lib1"), ("otel.library.version", "1.0")]),
        span_with("a", &[("service.version", "9"), ("telemetry.sdk.name", "x"), ("k", "v")]),
        span_with("b", &[("otel.scope.name", "lib2")]),
        span_with("b", &[("otel.library.name", "lib1")]),
    ];
    let rs = to_otlp(spans, false).unwrap();
    let services: Vec<_> =
        rs.iter().map(|r| attrs(&r.resource.as_ref().unwrap().attributes)["service.name"].clone()).collect();
    assert_eq!(services, vec![s("a"), s("b")]);
    let a = attrs(&rs[0].resource.as_ref().unwrap().attributes);
    assert_eq!((a["service.version"].clone(), a["telemetry.sdk.name"].clone()), (s("9"), s("x")));
    assert_eq!(attrs(&rs[0].scope_spans[0].spans[0].attributes).keys().collect::<Vec<_>>(), vec!["k"]);
    let scopes: Vec<_> =
        rs[1].scope_spans.iter().map(|ss| (ss.scope.as_ref().unwrap().name.as_str(), ss.spans.len())).collect();
    assert_eq!(scopes, vec![("lib1", 2), ("lib2", 1)]);
    assert_eq!(rs[1].scope_spans[0].scope.as_ref().unwrap().version, "1.0");
    assert!(rs[1].scope_spans[0].spans[0].attributes.is_empty(), "scope tags do not stay on the span");
}

#[test]
fn status_kind_trace_state_and_service_name_source() {
    let mut sp = span_with(
        "svc",
        &[
            ("otel.status_code", "STATUS_CODE_OK"),
            ("otel.status_description", "fine"),
            ("span.kind", "internal"),
            ("w3c.tracestate", "a=b"),
            (SERVICE_NAME_SOURCE, "faas.name"),
        ],
    );
    sp.parent_id = Some(sp.id); // a parent equal to the span itself is dropped
    let rs = to_otlp(vec![sp], false).unwrap();
    assert_eq!(attrs(&rs[0].resource.as_ref().unwrap().attributes), [("faas.name".to_owned(), s("svc"))].into());
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!(span.status.as_ref().unwrap(), &Status { code: StatusCode::Ok as i32, message: "fine".into() });
    assert_eq!((span.kind, span.trace_state.as_str()), (SpanKind::Internal as i32, "a=b"));
    assert!(span.parent_span_id.is_empty() && span.attributes.is_empty());

    let rs = to_otlp(vec![span_with("svc", &[("otel.status_code", "ERROR"), ("error", "boom")])], false).unwrap();
    let status = rs[0].scope_spans[0].spans[0].status.clone().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, "boom"));
    let rs = to_otlp(vec![span_with("svc", &[("error", "true")])], false).unwrap();
    let status = rs[0].scope_spans[0].spans[0].status.clone().unwrap();
    assert_eq!((status.code, status.message.as_str()), (StatusCode::Error as i32, ""));
}

#[test]
fn absent_start_time_is_flagged() {
    let mut sp = span_with("svc", &[]);
    sp.timestamp = 0;
    sp.duration = 7;
    let rs = to_otlp(vec![sp], false).unwrap();
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (0, 7000));
    assert_eq!(attrs(&span.attributes)[START_TIME_ABSENT], Value::BoolValue(true));
}

#[test]
fn parse_string_tags_types_values_like_upstream() {
    for (v, want) in [
        ("42", Value::IntValue(42)),
        ("-7", Value::IntValue(-7)),
        ("3.25", Value::DoubleValue(3.25)),
        ("true", Value::BoolValue(true)),
        ("1e5", s("1e5")),
        ("True", s("True")),
        ("", s("")),
        ("12abc", s("12abc")),
    ] {
        assert_eq!(tag_value(v, true), want, "{v:?}");
        assert_eq!(tag_value(v, false), s(v));
    }
}

#[test]
fn annotations_with_attributes_become_event_attributes() {
    let mut sp = span_with("svc", &[]);
    sp.annotations =
        vec![(3, r#"exception|{"exception.type":"E","n":2,"f":1.5,"ok":true}|1"#.into()), (4, "plain".into())];
    let rs = to_otlp(vec![sp.clone()], false).unwrap();
    let events = &rs[0].scope_spans[0].spans[0].events;
    assert_eq!(
        (events[0].name.as_str(), events[0].time_unix_nano, events[0].dropped_attributes_count),
        ("exception", 3000, 1)
    );
    let a = attrs(&events[0].attributes);
    assert_eq!(a["exception.type"], s("E"));
    assert_eq!(
        (a["n"].clone(), a["f"].clone(), a["ok"].clone()),
        (Value::IntValue(2), Value::DoubleValue(1.5), Value::BoolValue(true))
    );
    assert_eq!(events[1].name, "plain");
    sp.annotations = vec![(3, "x|not json|0".into())];
    assert!(to_otlp(vec![sp], false).unwrap_err().contains("not a JSON object"));
}

#[test]
fn otlp_link_tags_become_links() {
    let sp = span_with(
        "svc",
        &[
            ("otlp.link.0", r#"0102030405060708090a0b0c0d0e0f10|1112131415161718|k=v|{"a":"b|c","n":1}|2"#),
            ("otlp.link.1", "short|value"),
            ("otlp.link.2", r#"0102030405060708090a0b0c0d0e0f10|1112131415161718||{}|0"#),
            ("otlp.link.5", "not read: the sequence stops at the first gap"),
        ],
    );
    let rs = to_otlp(vec![sp], false).unwrap();
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!(span.links.len(), 2, "a link with fewer than 5 parts is skipped");
    let l = &span.links[0];
    assert_eq!(const_hex::encode(&l.trace_id), "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(
        (const_hex::encode(&l.span_id), l.trace_state.as_str(), l.dropped_attributes_count),
        ("1112131415161718".into(), "k=v", 2)
    );
    assert_eq!(attrs(&l.attributes), [("a".to_owned(), s("b|c")), ("n".to_owned(), Value::IntValue(1))].into());
    assert_eq!(attrs(&span.attributes).keys().collect::<Vec<_>>(), vec!["otlp.link.5"]);
    let bad = span_with("svc", &[("otlp.link.0", "zz|1112131415161718||{}|0")]);
    assert!(to_otlp(vec![bad], false).unwrap_err().contains("otlp.link.0"));
}
