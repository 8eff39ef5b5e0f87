use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use serde_json::json;

use super::*;
use crate::testkit::{gauge, kv, resource, s};

fn props(v: Value) -> MatchProperties {
    serde_json::from_value(v).unwrap()
}

fn matcher(v: Value) -> Matcher {
    props(v).compile().unwrap()
}

fn compile_err(v: Value) -> Invalid {
    props(v).compile().unwrap_err()
}

fn signal_err(v: Value, signal: Signal) -> Invalid {
    props(v).check_signal(signal).unwrap_err()
}

fn span(name: &str, kind: i32, attrs: Vec<KeyValue>) -> Span {
    Span { name: name.into(), kind, attributes: attrs, ..Default::default() }
}

fn log(body: &str, sev: i32, text: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        body: Some(AnyValue { value: Some(s(body)) }),
        severity_number: sev,
        severity_text: text.into(),
        attributes: attrs,
        ..Default::default()
    }
}

fn scope(name: &str, version: &str) -> InstrumentationScope {
    InstrumentationScope { name: name.into(), version: version.into(), ..Default::default() }
}

/// Whether `m` matches `item` under a resource with `service` and the scope `lib@1.0`.
fn hit(m: &Matcher, service: &str, item: Item) -> bool {
    let res = resource(service).unwrap();
    let sc = scope("lib", "1.0");
    m.matches(&Context { resource: Some(&res), scope: Some(&sc), item })
}

#[test]
fn services_strict_and_regexp() {
    let sp = span("a", 2, vec![]);
    let strict = matcher(json!({"match_type": "strict", "services": ["svcA", "svcB"]}));
    assert!(hit(&strict, "svcB", Item::Span(&sp)));
    assert!(!hit(&strict, "svcAA", Item::Span(&sp)));
    // regexp is unanchored, as Go's regexp.MatchString in filterset
    let re = matcher(json!({"match_type": "regexp", "services": ["^svc[0-9]$"]}));
    assert!(hit(&re, "svc7", Item::Span(&sp)));
    assert!(!hit(&re, "svc77", Item::Span(&sp)));
    let loose = matcher(json!({"match_type": "regexp", "services": ["pay"]}));
    assert!(hit(&loose, "checkout-payments", Item::Span(&sp)));
    // no service.name: upstream compares "<nil-service-name>"
    let m = matcher(json!({"match_type": "strict", "services": ["<nil-service-name>"]}));
    assert!(m.matches(&Context { resource: None, scope: None, item: Item::Span(&sp) }));
}

#[test]
fn span_names_and_kinds() {
    let m = matcher(json!({"match_type": "strict", "span_names": ["login"], "span_kinds": ["SPAN_KIND_SERVER"]}));
    assert!(hit(&m, "x", Item::Span(&span("login", 2, vec![]))));
    assert!(!hit(&m, "x", Item::Span(&span("login", 3, vec![]))), "client kind must not match");
    assert!(!hit(&m, "x", Item::Span(&span("logout", 2, vec![]))));
    let re = matcher(json!({"match_type": "regexp", "span_names": ["^GET /"], "span_kinds": ["CLIENT|PRODUCER"]}));
    assert!(hit(&re, "x", Item::Span(&span("GET /users", 4, vec![]))));
    assert!(!hit(&re, "x", Item::Span(&span("GET /users", 1, vec![]))));
}

#[test]
fn attributes_strict_compare_type_and_value() {
    let m = matcher(json!({"match_type": "strict", "attributes": [{"key": "code", "value": 404}, {"key": "env"}]}));
    let ok = vec![kv("code", V::IntValue(404)), kv("env", s("anything"))];
    assert!(hit(&m, "x", Item::Span(&span("a", 1, ok))));
    // a string "404" is not the int 404 (pcommon values compare by type first)
    let as_str = vec![kv("code", s("404")), kv("env", s("p"))];
    assert!(!hit(&m, "x", Item::Span(&span("a", 1, as_str))));
    // every listed attribute must be present
    assert!(!hit(&m, "x", Item::Span(&span("a", 1, vec![kv("code", V::IntValue(404))]))));
    let b = matcher(
        json!({"match_type": "strict", "attributes": [{"key": "ok", "value": true}, {"key": "r", "value": 0.5}]}),
    );
    assert!(hit(&b, "x", Item::Span(&span("a", 1, vec![kv("ok", V::BoolValue(true)), kv("r", V::DoubleValue(0.5))]))));
    assert!(!hit(
        &b,
        "x",
        Item::Span(&span("a", 1, vec![kv("ok", V::BoolValue(false)), kv("r", V::DoubleValue(0.5))]))
    ));
}

#[test]
fn attributes_regexp_on_text_of_scalars() {
    let m = matcher(json!({"match_type": "regexp", "attributes": [{"key": "http.status_code", "value": "^5"}]}));
    assert!(hit(&m, "x", Item::Span(&span("a", 1, vec![kv("http.status_code", V::IntValue(503))]))));
    assert!(hit(&m, "x", Item::Span(&span("a", 1, vec![kv("http.status_code", s("500"))]))));
    assert!(!hit(&m, "x", Item::Span(&span("a", 1, vec![kv("http.status_code", V::IntValue(404))]))));
    assert!(!hit(&m, "x", Item::Span(&span("a", 1, vec![kv("other", s("500"))]))));
}

#[test]
fn resources_match_resource_attributes() {
    let m = matcher(json!({"match_type": "strict", "resources": [{"key": "service.name", "value": "api"}]}));
    let sp = span("a", 1, vec![kv("service.name", s("api"))]);
    assert!(hit(&m, "api", Item::Span(&sp)));
    assert!(!hit(&m, "web", Item::Span(&sp)), "span attributes are not resource attributes");
}

#[test]
fn libraries_name_and_optional_version() {
    let sp = span("a", 1, vec![]);
    assert!(hit(&matcher(json!({"match_type": "strict", "libraries": [{"name": "lib"}]})), "x", Item::Span(&sp)));
    let v = json!({"match_type": "strict", "libraries": [{"name": "lib", "version": "1.0"}]});
    assert!(hit(&matcher(v), "x", Item::Span(&sp)));
    let v = json!({"match_type": "strict", "libraries": [{"name": "lib", "version": "2.0"}]});
    assert!(!hit(&matcher(v), "x", Item::Span(&sp)));
    let v = json!({"match_type": "regexp", "libraries": [{"name": "^li", "version": "^1\\."}]});
    assert!(hit(&matcher(v), "x", Item::Span(&sp)));
}

#[test]
fn log_bodies_and_severity_texts() {
    let m =
        matcher(json!({"match_type": "regexp", "log_bodies": ["timeout"], "log_severity_texts": ["^(WARN|ERROR)$"]}));
    assert!(hit(&m, "x", Item::Log(&log("db timeout after 3s", 17, "ERROR", vec![]))));
    assert!(!hit(&m, "x", Item::Log(&log("db timeout after 3s", 9, "INFO", vec![]))));
    assert!(!hit(&m, "x", Item::Log(&log("ok", 17, "ERROR", vec![]))));
    let strict =
        matcher(json!({"match_type": "strict", "log_bodies": ["ok"], "attributes": [{"key": "k", "value": "v"}]}));
    assert!(hit(&strict, "x", Item::Log(&log("ok", 0, "", vec![kv("k", s("v"))]))));
    assert!(!hit(&strict, "x", Item::Log(&log("ok", 0, "", vec![kv("k", s("w"))]))));
}

#[test]
fn log_severity_number_min_and_undefined() {
    let m = matcher(json!({"match_type": "strict", "log_severity_number": {"min": "WARN"}}));
    assert!(hit(&m, "x", Item::Log(&log("", 13, "", vec![]))));
    assert!(hit(&m, "x", Item::Log(&log("", 21, "", vec![]))));
    assert!(!hit(&m, "x", Item::Log(&log("", 12, "", vec![]))));
    assert!(!hit(&m, "x", Item::Log(&log("", 0, "", vec![]))), "undefined does not match by default");
    let u = matcher(json!({"match_type": "strict", "log_severity_number": {"min": 9, "match_undefined": true}}));
    assert!(hit(&u, "x", Item::Log(&log("", 0, "", vec![]))));
    assert!(!hit(&u, "x", Item::Log(&log("", 8, "", vec![]))));
    let n = matcher(json!({"match_type": "strict", "log_severity_number": {"min": "error3"}}));
    assert!(!hit(&n, "x", Item::Log(&log("", 18, "", vec![]))));
    assert!(hit(&n, "x", Item::Log(&log("", 19, "", vec![]))));
}

#[test]
fn metric_names_and_resources() {
    let m = matcher(
        json!({"match_type": "regexp", "metric_names": ["^http\\."], "resources": [{"key": "service.name", "value": "^api$"}]}),
    );
    assert!(hit(&m, "api", Item::Metric(&gauge("http.duration", 1))));
    assert!(!hit(&m, "api", Item::Metric(&gauge("db.calls", 1))));
    assert!(!hit(&m, "apix", Item::Metric(&gauge("http.duration", 1))));
}

#[test]
fn include_then_exclude() {
    let inc = props(json!({"match_type": "strict", "span_names": ["a", "b"]}));
    let exc = props(json!({"match_type": "strict", "attributes": [{"key": "skip"}]}));
    let res = resource("x").unwrap();
    let applies = |rule: &MatchRule, sp: &Span| {
        rule.applies(&Context { resource: Some(&res), scope: None, item: Item::Span(sp) })
    };
    let both = MatchRule::build(Some(&inc), Some(&exc), Some(Signal::Traces)).unwrap();
    assert!(applies(&both, &span("a", 1, vec![])));
    assert!(!applies(&both, &span("b", 1, vec![kv("skip", s("1"))])));
    assert!(!applies(&both, &span("c", 1, vec![])));
    let only_exc = MatchRule::build(None, Some(&exc), Some(Signal::Traces)).unwrap();
    assert!(applies(&only_exc, &span("c", 1, vec![])));
    assert!(!applies(&only_exc, &span("c", 1, vec![kv("skip", s("1"))])));
    let none = MatchRule::build(None, None, Some(Signal::Traces)).unwrap();
    assert!(none.is_empty() && applies(&none, &span("z", 1, vec![])));
}

#[test]
fn match_type_is_required_and_checked() {
    let e = compile_err(json!({"services": ["a"]}));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("match_type", "unrecognized match_type: '', valid types are: [regexp strict]")
    );
    let e = compile_err(json!({"match_type": "expr", "services": ["a"]}));
    assert_eq!(e.message, "unrecognized match_type: 'expr', valid types are: [regexp strict]");
    // the regexp cache settings are accepted
    matcher(
        json!({"match_type": "regexp", "regexp": {"cacheenabled": true, "cachemaxnumentries": 10}, "services": ["a"]}),
    );
}

#[test]
fn bad_regexps_name_their_key() {
    for (v, path) in [
        (json!({"match_type": "regexp", "span_names": ["ok", "("]}), "span_names.1"),
        (json!({"match_type": "regexp", "services": ["["]}), "services.0"),
        (json!({"match_type": "regexp", "log_bodies": ["a{2,1}"]}), "log_bodies.0"),
        (json!({"match_type": "regexp", "metric_names": ["("]}), "metric_names.0"),
        (json!({"match_type": "regexp", "attributes": [{"key": "k", "value": "("}]}), "attributes.0.value"),
        (json!({"match_type": "regexp", "resources": [{"key": "a"}, {"key": "k", "value": "("}]}), "resources.1.value"),
        (json!({"match_type": "regexp", "libraries": [{"name": "("}]}), "libraries.0.name"),
        (json!({"match_type": "regexp", "libraries": [{"name": "a", "version": "("}]}), "libraries.0.version"),
    ] {
        let e = compile_err(v);
        assert_eq!(e.path, path);
        assert!(e.message.starts_with("invalid regexp"), "{}", e.message);
    }
    // strict patterns are not regexps
    matcher(json!({"match_type": "strict", "span_names": ["("]}));
}

#[test]
fn bad_attribute_entries() {
    let e = compile_err(json!({"match_type": "strict", "attributes": [{"key": ""}]}));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("attributes.0.key", "can't have empty key in the list of attributes")
    );
    let e = compile_err(json!({"match_type": "regexp", "attributes": [{"key": "n", "value": 5}]}));
    assert_eq!(e.message, "match_type=regexp for \"n\" only supports Str, but found Int");
    let e = compile_err(json!({"match_type": "strict", "log_severity_number": {"min": "LOUD"}}));
    assert_eq!(e.path, "log_severity_number.min");
    assert!(serde_json::from_value::<MatchProperties>(json!({"match_type": "strict", "span_name": ["a"]})).is_err());
}

#[test]
fn properties_per_signal_as_upstream() {
    let t = Signal::Traces;
    assert_eq!(
        signal_err(json!({"match_type": "strict", "log_bodies": ["a"]}), t).message,
        "log_bodies should not be specified for trace spans"
    );
    let e = signal_err(json!({"match_type": "strict", "log_severity_number": {"min": 1}}), t);
    assert_eq!(e.message, "log_severity_number should not be specified for trace spans");
    assert_eq!(
        signal_err(json!({"match_type": "strict"}), t).message,
        r#"at least one of "services", "span_names", "span_kinds", "attributes", "libraries" or "resources" field must be specified"#
    );
    let e = signal_err(json!({"match_type": "strict", "span_kinds": ["SERVER"]}), t);
    assert_eq!(e.path, "span_kinds.0");
    assert!(e.message.starts_with(
        "span_kinds string must match one of the standard span kinds when match_type=strict: [SPAN_KIND_CLIENT"
    ));
    props(json!({"match_type": "regexp", "span_kinds": ["SERVER"]})).check_signal(t).unwrap();

    let l = Signal::Logs;
    assert_eq!(
        signal_err(json!({"match_type": "strict", "span_names": ["a"]}), l).message,
        "services, span_names, and span_kinds are not valid for log records"
    );
    assert_eq!(
        signal_err(json!({"match_type": "strict", "services": ["a"]}), l).message,
        "services, span_names, and span_kinds are not valid for log records"
    );
    assert!(signal_err(json!({"match_type": "strict"}), l)
        .message
        .starts_with(r#"at least one of "attributes", "libraries", "resources", "log_bodies""#));
    props(json!({"match_type": "strict", "log_severity_texts": ["WARN"]})).check_signal(l).unwrap();

    let m = Signal::Metrics;
    let e = signal_err(json!({"match_type": "strict", "span_names": ["a"]}), m);
    assert_eq!(e.path, "span_names");
    assert!(e.message.starts_with("span_names should not be specified for metrics"));
    assert_eq!(signal_err(json!({"match_type": "strict", "log_bodies": ["a"]}), m).path, "log_bodies");
    props(json!({"match_type": "strict", "metric_names": ["a"]})).check_signal(m).unwrap();
    props(json!({"match_type": "strict", "resources": [{"key": "a"}]})).check_signal(m).unwrap();
}

#[test]
fn rule_errors_carry_section_path() {
    let p = props(json!({"match_type": "strict", "log_bodies": ["a"]}));
    let e = MatchRule::build(None, Some(&p), Some(Signal::Traces)).unwrap_err();
    assert_eq!(e.path, "exclude.log_bodies");
    let e = MatchRule::build(Some(&props(json!({"match_type": "strict"}))), None, Some(Signal::Logs)).unwrap_err();
    assert_eq!(e.path, "include");
    // without a signal only the signal-independent checks run
    MatchRule::build(Some(&p), None, None).unwrap();
}

/// The spans documented in otelcol-contrib's
/// processor/attributesprocessor/testdata/config.yaml for
/// `attributes/excludemulti` and `attributes/selectiveprocessing`.
#[test]
fn upstream_documented_examples() {
    let spans = |svc: &str, attrs: Vec<KeyValue>, rule: &MatchRule| {
        let res = resource(svc).unwrap();
        let sp = span("x", 1, attrs);
        rule.applies(&Context { resource: Some(&res), scope: None, item: Item::Span(&sp) })
    };
    let exclude = props(json!({"match_type": "strict", "services": ["svcA", "svcB"],
        "attributes": [{"key": "env", "value": "dev"}, {"key": "test_request"}]}));
    let rule = MatchRule::build(None, Some(&exclude), Some(Signal::Traces)).unwrap();
    let card = || kv("credit_card", V::IntValue(1234));
    // Span1 and Span2 match the exclude properties: not processed
    assert!(!spans("svcB", vec![kv("env", s("dev")), kv("test_request", V::IntValue(123)), card()], &rule));
    assert!(!spans("svcA", vec![kv("env", s("dev")), kv("test_request", V::BoolValue(false))], &rule));
    // Span3 (env is the int 1) and Span4 (svcC) do not: processed
    assert!(spans("svcB", vec![kv("env", V::IntValue(1)), kv("test_request", s("dev")), card()], &rule));
    assert!(spans("svcC", vec![kv("env", s("dev")), kv("test_request", V::BoolValue(false))], &rule));

    let include = props(json!({"match_type": "strict", "services": ["svcA", "svcB"]}));
    let exclude = props(json!({"match_type": "strict", "attributes": [{"key": "redact_trace", "value": false}]}));
    let rule = MatchRule::build(Some(&include), Some(&exclude), Some(Signal::Traces)).unwrap();
    // Span1: redact_trace is the string "false", not the bool: processed
    assert!(spans("svcB", vec![kv("env", s("production")), kv("redact_trace", s("false"))], &rule));
    assert!(spans("svcA", vec![kv("env", s("staging")), kv("redact_trace", V::BoolValue(true))], &rule));
    assert!(!spans("svcB", vec![kv("env", s("production")), kv("redact_trace", V::BoolValue(false))], &rule));
    assert!(!spans("svcC", vec![kv("env", s("dev")), kv("test_request", V::BoolValue(false))], &rule));
}

#[test]
fn structured_log_bodies_match_as_json() {
    // as Go's encoding/json: map keys sorted
    use opentelemetry_proto::tonic::common::v1::KeyValueList;
    let body = AnyValue {
        value: Some(V::KvlistValue(KeyValueList {
            values: vec![kv("ok", V::BoolValue(true)), kv("event", s("login"))],
        })),
    };
    let rec = LogRecord { body: Some(body), ..Default::default() };
    let strict = matcher(json!({"match_type": "strict", "log_bodies": [r#"{"event":"login","ok":true}"#]}));
    assert!(hit(&strict, "x", Item::Log(&rec)));
    let re = matcher(json!({"match_type": "regexp", "log_bodies": [r#""event":"logout""#]}));
    assert!(!hit(&re, "x", Item::Log(&rec)));
}
