//! Golden cases after otelcol-contrib `pkg/translator/jaeger/traces_to_jaegerproto_test.go`:
//! `TestGetTagFromSpanKind`, `TestGetTagFromStatusCode`, `TestGetErrorTagFromStatusCode`,
//! `TestGetTagFromStatusMsg`, `TestAttributesToJaegerProtoTags`(`_MapType`) and the
//! `TestInternalTracesToJaegerProto` cases "empty", "no-spans", "no-resource-attrs",
//! "one-span-no-resources", "library-info", "two-spans-child-parent",
//! "two-spans-with-follower", "span-with-span-event-attribute".

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Status};

use super::*;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;

use crate::testkit::{kv, s};

const TRACE: [u8; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const SPAN_A: [u8; 8] = [0xaf, 0xae, 0xad, 0xac, 0xab, 0xaa, 0xa9, 0xa8];
const SPAN_B: [u8; 8] = [0x1f, 0x1e, 0x1d, 0x1c, 0x1b, 0x1a, 0x19, 0x18];
const START: u64 = 1_581_452_772_000_000_321;
const END: u64 = 1_581_452_773_000_000_789;

fn otlp_span(name: &str, id: [u8; 8]) -> OtlpSpan {
    OtlpSpan {
        trace_id: TRACE.to_vec(),
        span_id: id.to_vec(),
        name: name.into(),
        start_time_unix_nano: START,
        end_time_unix_nano: END,
        ..Default::default()
    }
}

fn traces(resource: Option<Resource>, scope: Option<InstrumentationScope>, spans: Vec<OtlpSpan>) -> ResourceSpans {
    ResourceSpans {
        resource,
        scope_spans: vec![ScopeSpans { scope, spans, ..Default::default() }],
        ..Default::default()
    }
}

fn only_batch(rs: ResourceSpans) -> Batch {
    let mut b = batches(&[rs]);
    assert_eq!(b.len(), 1);
    b.remove(0)
}

#[test]
fn span_kind_tags() {
    assert_eq!(span_kind(SpanKind::Client as i32), Some("client"));
    assert_eq!(span_kind(SpanKind::Server as i32), Some("server"));
    assert_eq!(span_kind(SpanKind::Producer as i32), Some("producer"));
    assert_eq!(span_kind(SpanKind::Consumer as i32), Some("consumer"));
    assert_eq!(span_kind(SpanKind::Internal as i32), Some("internal"));
    assert_eq!(span_kind(SpanKind::Unspecified as i32), None);
}

#[test]
fn status_tags() {
    let with = |code: status::StatusCode, message: &str| {
        let mut sp = otlp_span("s", SPAN_A);
        sp.status = Some(Status { code: code as i32, message: message.into() });
        span_to_jaeger(&sp, None).tags
    };
    assert_eq!(
        with(status::StatusCode::Error, ""),
        vec![KeyValue::str("otel.status_code", "ERROR"), KeyValue::bool("error", true)]
    );
    assert_eq!(with(status::StatusCode::Ok, ""), vec![KeyValue::str("otel.status_code", "OK")]);
    assert_eq!(with(status::StatusCode::Unset, ""), vec![]);
    assert_eq!(with(status::StatusCode::Unset, "msg"), vec![KeyValue::str("otel.status_description", "msg")]);
}

#[test]
fn attribute_tags_keep_types_and_resource_skips_service_name() {
    let attrs = vec![
        kv("bool-val", V::BoolValue(true)),
        kv("int-val", V::IntValue(123)),
        kv("string-val", s("abc")),
        kv("double-val", V::DoubleValue(1.23)),
        kv("bytes-val", V::BytesValue(vec![1, 2, 3, 4])),
        kv("service.name", s("service-name")),
    ];
    let expected = vec![
        KeyValue { key: "bool-val".into(), v_type: ValueType::Bool as i32, v_bool: true, ..Default::default() },
        KeyValue { key: "int-val".into(), v_type: ValueType::Int64 as i32, v_int64: 123, ..Default::default() },
        KeyValue::str("string-val", "abc"),
        KeyValue { key: "double-val".into(), v_type: ValueType::Float64 as i32, v_float64: 1.23, ..Default::default() },
        KeyValue {
            key: "bytes-val".into(),
            v_type: ValueType::Binary as i32,
            v_binary: vec![1, 2, 3, 4],
            ..Default::default()
        },
        KeyValue::str("service.name", "service-name"),
    ];
    assert_eq!(attrs.iter().map(tag).collect::<Vec<_>>(), expected);
    let p = process(&attrs);
    assert_eq!(p.service_name, "service-name");
    assert_eq!(p.tags, expected[..5].to_vec());
    // TestAttributesToJaegerProtoTags_MapType
    assert_eq!(tag(&kv("empty-map", V::KvlistValue(KeyValueList::default()))), KeyValue::str("empty-map", "{}"));
}

#[test]
fn empty_and_resource_only_cases() {
    // "empty"
    assert!(batches(&[]).is_empty());
    // "no-spans": a resource with attributes and no scopes gives a batch with its process
    let rs = ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", s("svc")), kv("int-attr-1", V::IntValue(123))],
            ..Default::default()
        }),
        ..Default::default()
    };
    let b = only_batch(rs);
    assert!(b.spans.is_empty());
    let p = b.process.unwrap();
    assert_eq!(p.service_name, "svc");
    assert_eq!(
        p.tags,
        vec![KeyValue {
            key: "int-attr-1".into(),
            v_type: ValueType::Int64 as i32,
            v_int64: 123,
            ..Default::default()
        }]
    );
    // "no-resource-attrs": an empty resource without scopes gives nothing
    assert!(batches(&[ResourceSpans { resource: Some(Resource::default()), ..Default::default() }]).is_empty());
}

#[test]
fn one_span_no_resources_with_trace_state() {
    let mut sp = otlp_span("operationA", SPAN_A);
    sp.trace_state = "lasterror=f39cd56cc44274fd5abd07ef1164246d10ce2955".into();
    sp.events = vec![
        Event {
            time_unix_nano: START + 5,
            name: "event-with-attr".into(),
            attributes: vec![kv("span-event-attr", s("span-event-attr-val"))],
            ..Default::default()
        },
        Event {
            time_unix_nano: START + 6,
            name: "".into(),
            attributes: vec![kv("attr-int", V::IntValue(123))],
            ..Default::default()
        },
    ];
    sp.status = Some(Status { code: status::StatusCode::Error as i32, message: "status-cancelled".into() });
    let b = only_batch(traces(None, None, vec![sp]));
    assert_eq!(b.process.unwrap(), Process { service_name: NO_SERVICE_NAME.into(), tags: vec![] });
    let j = &b.spans[0];
    assert_eq!(j.trace_id, TRACE.to_vec());
    assert_eq!(j.span_id, SPAN_A.to_vec());
    assert_eq!(j.operation_name, "operationA");
    assert!(j.references.is_empty());
    assert_eq!(j.start_time, Some(Time { seconds: 1_581_452_772, nanos: 321 }));
    assert_eq!(j.duration, Some(Time { seconds: 1, nanos: 468 }));
    assert_eq!(
        j.tags,
        vec![
            KeyValue::str("otel.status_code", "ERROR"),
            KeyValue::bool("error", true),
            KeyValue::str("otel.status_description", "status-cancelled"),
            KeyValue::str("w3c.tracestate", "lasterror=f39cd56cc44274fd5abd07ef1164246d10ce2955"),
        ]
    );
    assert_eq!(
        j.logs,
        vec![
            Log {
                timestamp: Some(Time { seconds: 1_581_452_772, nanos: 326 }),
                fields: vec![
                    KeyValue::str("event", "event-with-attr"),
                    KeyValue::str("span-event-attr", "span-event-attr-val")
                ],
            },
            Log {
                timestamp: Some(Time { seconds: 1_581_452_772, nanos: 327 }),
                fields: vec![KeyValue {
                    key: "attr-int".into(),
                    v_type: ValueType::Int64 as i32,
                    v_int64: 123,
                    ..Default::default()
                }],
            },
        ]
    );
}

#[test]
fn library_info_becomes_scope_tags_first() {
    let scope =
        InstrumentationScope { name: "io.opentelemetry.test".into(), version: "0.42.0".into(), ..Default::default() };
    let mut sp = otlp_span("operationA", SPAN_A);
    sp.attributes = vec![kv("a", s("b"))];
    sp.kind = SpanKind::Server as i32;
    let b = only_batch(traces(None, Some(scope), vec![sp]));
    assert_eq!(
        b.spans[0].tags,
        vec![
            KeyValue::str("otel.scope.name", "io.opentelemetry.test"),
            KeyValue::str("otel.scope.version", "0.42.0"),
            KeyValue::str("a", "b"),
            KeyValue::str("span.kind", "server"),
        ]
    );
}

#[test]
fn child_parent_and_follower_references() {
    // "two-spans-child-parent": the parent is the first reference, CHILD_OF
    let parent = otlp_span("operationA", SPAN_A);
    let mut child = otlp_span("operationB", SPAN_B);
    child.parent_span_id = SPAN_A.to_vec();
    // "two-spans-with-follower": a link is FOLLOWS_FROM
    let mut follower = otlp_span("operationC", [9; 8]);
    follower.links = vec![Link { trace_id: TRACE.to_vec(), span_id: SPAN_A.to_vec(), ..Default::default() }];
    // a link marked child_of, and a link to the parent that changes the parent's type
    let mut marked = otlp_span("operationD", [8; 8]);
    marked.parent_span_id = SPAN_B.to_vec();
    marked.links = vec![
        Link {
            trace_id: TRACE.to_vec(),
            span_id: SPAN_B.to_vec(),
            attributes: vec![kv("opentracing.ref_type", s("follows_from"))],
            ..Default::default()
        },
        Link {
            trace_id: TRACE.to_vec(),
            span_id: SPAN_A.to_vec(),
            attributes: vec![kv("opentracing.ref_type", s("child_of"))],
            ..Default::default()
        },
    ];
    let b = only_batch(traces(None, None, vec![parent, child, follower, marked]));
    let r = |span: [u8; 8], t: SpanRefType| SpanRef {
        trace_id: TRACE.to_vec(),
        span_id: span.to_vec(),
        ref_type: t as i32,
    };
    assert!(b.spans[0].references.is_empty());
    assert_eq!(b.spans[1].references, vec![r(SPAN_A, SpanRefType::ChildOf)]);
    assert_eq!(b.spans[2].references, vec![r(SPAN_A, SpanRefType::FollowsFrom)]);
    assert_eq!(b.spans[3].references, vec![r(SPAN_B, SpanRefType::FollowsFrom), r(SPAN_A, SpanRefType::ChildOf)]);
}

#[test]
fn span_event_attribute_named_event_wins() {
    // "span-with-span-event-attribute"
    let mut sp = otlp_span("operationA", SPAN_A);
    sp.events = vec![Event {
        name: "name".into(),
        attributes: vec![kv("event", s("must-be-used-instead-of-event-name"))],
        ..Default::default()
    }];
    let b = only_batch(traces(None, None, vec![sp]));
    assert_eq!(b.spans[0].logs[0].fields, vec![KeyValue::str("event", "must-be-used-instead-of-event-name")]);
}

#[test]
fn one_batch_per_resource() {
    let a = traces(crate::testkit::resource("a"), None, vec![otlp_span("x", SPAN_A)]);
    let b = traces(crate::testkit::resource("b"), None, vec![otlp_span("y", SPAN_B)]);
    let out = batches(&[a, b]);
    let names: Vec<_> = out.iter().map(|b| b.process.as_ref().unwrap().service_name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
}
