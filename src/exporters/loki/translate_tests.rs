//! Golden cases after otelcol-contrib `pkg/translator/loki/encode_test.go`
//! (`exampleLog`, `TestEncodeJsonWithStringBody`, `...WithMapBody`,
//! `TestEncodeWithFlags`, `TestSerializeComplexBody`,
//! `TestEncodeLogfmtWithStringBody`, `...WithMapBody`, `...WithSliceBody`,
//! `...WithComplexAttributes`) and `logs_to_loki_test.go` / `convert_test.go`
//! (hints, default labels, tenant, nested attributes, label normalisation).

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::logs::v1::ScopeLogs;
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;
use crate::testkit::{kv, s};

const TRACE: [u8; 16] = [1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const SPAN: [u8; 8] = [5, 6, 7, 8, 0, 0, 0, 0];

fn any(v: V) -> AnyValue {
    AnyValue { value: Some(v) }
}

fn map(pairs: Vec<KeyValue>) -> V {
    V::KvlistValue(KeyValueList { values: pairs })
}

fn slice(values: Vec<V>) -> V {
    V::ArrayValue(ArrayValue { values: values.into_iter().map(any).collect() })
}

/// upstream's `exampleLog()`
fn example() -> (LogRecord, Vec<KeyValue>, InstrumentationScope) {
    let lr = LogRecord {
        body: Some(any(s("Example log"))),
        severity_text: "error".into(),
        attributes: vec![kv("attr1", s("1")), kv("attr2", s("2"))],
        trace_id: TRACE.to_vec(),
        span_id: SPAN.to_vec(),
        ..Default::default()
    };
    let scope = InstrumentationScope { name: "example-logger-name".into(), version: "v1".into(), ..Default::default() };
    (lr, vec![kv("host.name", s("something"))], scope)
}

const TAIL_JSON: &str = r#""traceid":"01020304000000000000000000000000","spanid":"0506070800000000","severity":"error","attributes":{"attr1":"1","attr2":"2"},"resources":{"host.name":"something"},"instrumentation_scope":{"name":"example-logger-name","version":"v1"}}"#;
const TAIL_LOGFMT: &str = "traceID=01020304000000000000000000000000 spanID=0506070800000000 severity=error attribute_attr1=1 attribute_attr2=2 resource_host.name=something instrumentation_scope_name=example-logger-name instrumentation_scope_version=v1";

#[test]
fn json_lines() {
    let (mut lr, res, scope) = example();
    assert_eq!(encode::json(&lr, &res, Some(&scope)), format!(r#"{{"body":"Example log",{TAIL_JSON}"#));
    lr.body = Some(any(map(vec![kv("key1", s("value")), kv("key2", s("value"))])));
    assert_eq!(
        encode::json(&lr, &res, Some(&scope)),
        format!(r#"{{"body":{{"key1":"value","key2":"value"}},{TAIL_JSON}"#)
    );
    lr.body = Some(any(s("Example log")));
    lr.flags = 1;
    let flagged = encode::json(&lr, &res, Some(&scope));
    assert!(flagged.contains(r#""severity":"error","flags":1,"attributes""#), "{flagged}");
}

#[test]
fn complex_bodies_in_json_and_logfmt() {
    let complex = map(vec![
        kv("keystr", s("val")),
        kv("keyint", V::DoubleValue(1.0)),
        kv("keybool", V::BoolValue(true)),
        KeyValue { key: "keynull".into(), value: Some(AnyValue { value: None }), ..Default::default() },
        kv("keyarr", slice(vec![s("a"), s("b")])),
        kv("keymap", map(vec![kv("key", s("val"))])),
        KeyValue { key: "keyempty".into(), value: Some(AnyValue { value: None }), ..Default::default() },
    ]);
    let cases: Vec<(Option<V>, &str, &str)> = vec![
        (None, "", ""),
        (Some(s("a")), r#""a""#, "a="),
        (Some(V::IntValue(1)), "1", "msg=1"),
        (Some(V::DoubleValue(1.1)), "1.1", "msg=1.1"),
        (Some(V::BoolValue(true)), "true", "msg=true"),
        (Some(map(vec![kv("key", s("val"))])), r#"{"key":"val"}"#, "key=val"),
        (
            Some(complex),
            r#"{"keyarr":["a","b"],"keybool":true,"keyempty":null,"keyint":1,"keymap":{"key":"val"},"keynull":null,"keystr":"val"}"#,
            "keystr=val keyint=1 keybool=true keyarr_0=a keyarr_1=b keymap_key=val",
        ),
        (Some(slice(vec![s("a"), s("b")])), r#"["a","b"]"#, "body_0=a body_1=b"),
        (Some(V::BytesValue(b"abc".to_vec())), r#""YWJj""#, "msg=abc"),
    ];
    for (body, json, logfmt) in cases {
        let lr = LogRecord { body: body.map(any), ..Default::default() };
        let expect_json = if json.is_empty() { "{}".to_owned() } else { format!(r#"{{"body":{json}}}"#) };
        assert_eq!(encode::json(&lr, &[], None), expect_json);
        assert_eq!(encode::logfmt(&lr, &[], None), logfmt);
    }
}

#[test]
fn logfmt_lines() {
    let (mut lr, mut res, scope) = example();
    lr.body = Some(any(s("msg=\"hello world\"")));
    assert_eq!(encode::logfmt(&lr, &res, Some(&scope)), format!("msg=\"hello world\" {TAIL_LOGFMT}"));
    lr.body = Some(any(slice(vec![s("value"), V::BoolValue(true), V::IntValue(123)])));
    assert_eq!(encode::logfmt(&lr, &res, Some(&scope)), format!("body_0=value body_1=true body_2=123 {TAIL_LOGFMT}"));
    // ...WithComplexAttributes: a plain sentence is read as bare logfmt keys
    lr.body = Some(any(s("Example log")));
    let nested = slice(vec![
        s("fooo"),
        map(vec![kv("slice", slice(vec![V::BoolValue(true)])), kv("foo", s("bar"))]),
        map(vec![kv("nested", s("deeply nested")), kv("uint", V::IntValue(123))]),
    ]);
    lr.attributes.push(kv("aslice", nested.clone()));
    res.push(kv("bslice", nested));
    assert_eq!(
        encode::logfmt(&lr, &res, Some(&scope)),
        "Example= log= traceID=01020304000000000000000000000000 spanID=0506070800000000 severity=error attribute_attr1=1 attribute_attr2=2 attribute_aslice_0=fooo attribute_aslice_1_slice_0=true attribute_aslice_1_foo=bar attribute_aslice_2_nested=\"deeply nested\" attribute_aslice_2_uint=123 resource_host.name=something resource_bslice_0=fooo resource_bslice_1_slice_0=true resource_bslice_1_foo=bar resource_bslice_2_nested=\"deeply nested\" resource_bslice_2_uint=123 instrumentation_scope_name=example-logger-name instrumentation_scope_version=v1"
    );
    // a body logfmt refuses ('=' without key) stays whole under msg
    lr.body = Some(any(s("=oops")));
    lr.attributes.clear();
    assert!(encode::logfmt(&lr, &[], None).starts_with("msg=\"=oops\""));
}

fn logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ResourceLogs {
    ResourceLogs {
        resource: Some(Resource { attributes: resource, ..Default::default() }),
        scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
        ..Default::default()
    }
}

fn record(attrs: Vec<KeyValue>, severity: i32, body: &str) -> LogRecord {
    LogRecord {
        attributes: attrs,
        severity_number: severity,
        body: Some(any(s(body))),
        time_unix_nano: 7,
        ..Default::default()
    }
}

#[test]
fn hints_promote_labels_and_leave_the_line() {
    let resource = vec![
        kv("service.name", s("checkout")),
        kv("service.namespace", s("shop")),
        kv("service.instance.id", s("pod-1")),
        kv("k8s.pod.name", s("pod-1")),
        kv("loki.resource.labels", s("k8s.pod.name, missing")),
    ];
    let attrs = vec![
        kv("http.status", V::IntValue(200)),
        kv("container", s("web")),
        kv("loki.attribute.labels", s("container,http.status")),
        kv("loki.format", s("logfmt")),
    ];
    let out = requests(&[logs(resource, vec![record(attrs, 9, "hello")])], DefaultLabels::default(), 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].tenant, "");
    let stream = &out[0].request.streams[0];
    assert_eq!(
        stream.labels,
        r#"{container="web", exporter="OTLP", http_status="200", instance="pod-1", job="shop/checkout", k8s_pod_name="pod-1", level="INFO"}"#
    );
    assert_eq!(stream.entries[0].timestamp, Some(Timestamp { seconds: 0, nanos: 7 }));
    // promoted attributes and hints are gone; service.name stays (job is not an attribute name)
    assert_eq!(
        stream.entries[0].line,
        "hello= resource_service.name=checkout resource_service.namespace=shop resource_service.instance.id=pod-1"
    );
}

#[test]
fn default_labels_switch_off_and_records_group_into_streams() {
    let off = DefaultLabels { exporter: false, job: true, instance: true, level: false };
    let resource = vec![kv("service.name", s("api"))];
    let rl = logs(resource, vec![record(vec![], 9, "a"), record(vec![], 17, "b"), record(vec![], 9, "c")]);
    let out = requests(std::slice::from_ref(&rl), off, 0);
    let streams = &out[0].request.streams;
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].labels, r#"{job="api"}"#);
    assert_eq!(streams[0].entries.len(), 3);
    // with level on, severities split the streams, in first-seen order
    let out = requests(&[rl], DefaultLabels::default(), 0);
    let labels: Vec<_> = out[0].request.streams.iter().map(|s| (s.labels.as_str(), s.entries.len())).collect();
    assert_eq!(
        labels,
        [(r#"{exporter="OTLP", job="api", level="INFO"}"#, 2), (r#"{exporter="OTLP", job="api", level="ERROR"}"#, 1)]
    );
}

#[test]
fn tenant_hint_groups_requests() {
    let a = logs(vec![kv("loki.tenant", s("tenant.id")), kv("tenant.id", s("team-a"))], vec![record(vec![], 0, "x")]);
    let b = logs(vec![], vec![record(vec![kv("loki.tenant", s("t")), kv("t", s("team-b"))], 0, "y")]);
    let none = logs(vec![], vec![record(vec![], 0, "z")]);
    let out = requests(&[a, b, none], DefaultLabels::default(), 0);
    let tenants: Vec<_> = out.iter().map(|t| t.tenant.as_str()).collect();
    assert_eq!(tenants, ["team-a", "team-b", ""]);
    // the hint is removed from the line, the tenant attribute is not
    assert_eq!(out[0].request.streams[0].entries[0].line, r#"{"body":"x","resources":{"tenant.id":"team-a"}}"#);
}

#[test]
fn raw_format_nested_names_and_bad_format() {
    let nested = vec![kv("loki.attribute.labels", s("a.b.c")), kv("a", map(vec![kv("b.c", s("deep"))]))];
    let mut r = record(nested, 0, "plain line");
    r.attributes.push(kv("loki.format", s("raw")));
    let bad = record(vec![kv("loki.format", s("xml"))], 0, "x");
    let out = requests(&[logs(vec![], vec![r, bad])], DefaultLabels::default(), 5);
    assert_eq!(out[0].request.streams[0].labels, r#"{a_b_c="deep", exporter="OTLP"}"#);
    assert_eq!(out[0].request.streams[0].entries[0].line, "plain line");
    assert_eq!((out[0].submitted, out[0].dropped), (1, 1));
    assert!(out[0].errors[0].contains("invalid format xml"), "{:?}", out[0].errors);
}

#[test]
fn label_normalisation_and_levels() {
    assert_eq!(normalize_label("service.name"), "service_name");
    assert_eq!(normalize_label("0abc"), "key_0abc");
    assert_eq!(normalize_label("_abc"), "key_abc");
    assert_eq!(normalize_label("__abc"), "__abc");
    assert_eq!(level(1), "TRACE");
    assert_eq!(level(10), "INFO2");
    assert_eq!(level(24), "FATAL4");
    assert_eq!(level(0), "UNSPECIFIED");
}
