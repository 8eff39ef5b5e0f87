//! Operator cases, most taken from the examples in
//! pkg/stanza/docs/operators/*.md (each test names its source).

use super::*;
use serde_json::json;

fn pipeline(ops: Value) -> Pipeline {
    Pipeline::build(ops.as_array().unwrap()).unwrap()
}

fn err(ops: Value) -> Invalid {
    Pipeline::build(ops.as_array().unwrap()).err().unwrap()
}

fn entry(body: Value) -> Entry {
    Entry { body, ..Default::default() }
}

fn attrs(e: &Entry) -> Value {
    Value::Object(e.attributes.clone())
}

/// json_parser.md: "Parse the field `body` as JSON".
#[test]
fn json_parser_to_attributes() {
    let p = pipeline(json!([{"type": "json_parser"}]));
    let e = p.process(entry(json!("{\"key\": \"val\"}"))).unwrap();
    assert_eq!(attrs(&e), json!({"key": "val"}));
    assert_eq!(e.body, json!("{\"key\": \"val\"}"), "the body is kept");
}

#[test]
fn json_parser_numbers_are_doubles_unless_parse_ints() {
    let p = pipeline(json!([{"type": "json_parser", "parse_to": "body"}]));
    let e = p.process(entry(json!("{\"n\": 3, \"m\": {\"x\": 1}}"))).unwrap();
    assert!(e.body["n"].is_f64() && e.body["m"]["x"].is_f64());
    let p = pipeline(json!([{"type": "json_parser", "parse_ints": true}]));
    assert!(p.process(entry(json!("{\"n\": 3}"))).unwrap().attributes["n"].is_i64());
}

/// json_parser.md: "Parse the field `body` as JSON, and parse the timestamp".
#[test]
fn json_parser_with_embedded_timestamp_and_severity() {
    let p = pipeline(json!([{"type": "json_parser",
        "timestamp": {"parse_from": "attributes.seconds_since_epoch", "layout_type": "epoch", "layout": "s"},
        "severity": {"parse_from": "attributes.level"}}]));
    let e = p
        .process(entry(json!("{\"key\": \"val\", \"seconds_since_epoch\": 1136214245, \"level\": \"warn\"}")))
        .unwrap();
    assert_eq!(e.timestamp, Some(1136214245 * 1_000_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (13, "warn"));
}

/// regex_parser.md: "Parse the field `message` with a regular expression".
#[test]
fn regex_parser_named_groups() {
    let p = pipeline(json!([{"type": "regex_parser", "parse_from": "body.message",
        "regex": "^Host=(?P<host>[^,]+), Type=(?P<type>.*)$"}]));
    let e = p.process(entry(json!({"message": "Host=127.0.0.1, Type=HTTP"}))).unwrap();
    assert_eq!(attrs(&e), json!({"host": "127.0.0.1", "type": "HTTP"}));
    // an optional group that did not match is "", as otelcol-contrib 0.135 sends it
    let p = pipeline(json!([{"type": "regex_parser", "regex": "^(?P<a>\\w+)(?: \\[(?P<ctx>[^\\]]*)\\])?$"}]));
    assert_eq!(attrs(&p.process(entry(json!("word"))).unwrap()), json!({"a": "word", "ctx": ""}));
}

/// receiver/filelogreceiver/README.md, "Example - Tailing a plaintext file".
#[test]
fn regex_parser_readme_example() {
    let p = pipeline(json!([{"type": "regex_parser",
        "regex": "^(?P<time>\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}) (?P<sev>[A-Z]*) (?P<msg>.*)$",
        "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%d %H:%M:%S", "location": "UTC"},
        "severity": {"parse_from": "attributes.sev"}}]));
    let e = p.process(entry(json!("2023-06-19 05:20:50 ERROR This is a test error message"))).unwrap();
    assert_eq!(e.attributes["msg"], json!("This is a test error message"));
    assert_eq!(e.timestamp, Some(1687152050 * 1_000_000_000));
    assert_eq!((e.severity, e.severity_text.as_str()), (17, "ERROR"));
}

#[test]
fn on_error_send_passes_the_entry_unchanged_and_drop_drops_it() {
    let send = pipeline(
        json!([{"type": "regex_parser", "regex": "^(?P<a>x)$"}, {"type": "add", "field": "attributes.seen", "value": true}]),
    );
    let e = send.process(entry(json!("no match"))).unwrap();
    assert_eq!(attrs(&e), json!({"seen": true}));
    assert_eq!(e.body, json!("no match"));
    let drop = pipeline(json!([{"type": "json_parser", "on_error": "drop_quiet"}]));
    assert!(drop.process(entry(json!("not json"))).is_none());
    assert!(drop.process(entry(json!("{}"))).is_some());
}

/// move.md: "Rename value" and "Move a value from the body to attributes".
#[test]
fn move_examples() {
    let p = pipeline(json!([{"type": "move", "from": "body.key1", "to": "body.key3"}]));
    let e = p.process(entry(json!({"key1": "val1", "key2": "val2"}))).unwrap();
    assert_eq!(e.body, json!({"key3": "val1", "key2": "val2"}));
    let p = pipeline(json!([{"type": "move", "from": "body.uuid", "to": "attributes.uuid"}]));
    let e = p.process(entry(json!({"uuid": "091edc50-d91a-460d-83cd-089a62937738"}))).unwrap();
    assert_eq!(attrs(&e), json!({"uuid": "091edc50-d91a-460d-83cd-089a62937738"}));
    let p = pipeline(json!([{"type": "move", "from": "body.message", "to": "body"}]));
    assert_eq!(p.process(entry(json!({"message": "hello"}))).unwrap().body, json!("hello"));
    let p = pipeline(json!([{"type": "move", "from": "attributes.svc", "to": "resource[\"service.name\"]"}]));
    let mut e = entry(json!("x"));
    e.attributes.insert("svc".into(), json!("airflow"));
    let e = p.process(e).unwrap();
    assert_eq!((Value::Object(e.resource.clone()), attrs(&e)), (json!({"service.name": "airflow"}), json!({})));
}

/// add.md: "Add a string to the body", "Add a value to attributes"; remove.md: "Remove a value from the body".
#[test]
fn add_and_remove_examples() {
    let p = pipeline(
        json!([{"type": "add", "field": "body.key2", "value": "val2"}, {"type": "remove", "field": "body.key"}]),
    );
    let e = p.process(entry(json!({"key": "val"}))).unwrap();
    assert_eq!(e.body, json!({"key2": "val2"}));
    let p = pipeline(
        json!([{"type": "add", "field": "attributes.key2", "value": 3}, {"type": "remove", "field": "attributes"}]),
    );
    assert_eq!(attrs(&p.process(entry(json!("x"))).unwrap()), json!({}));
    let p = pipeline(json!([{"type": "add", "field": "resource.env", "value": {"a": [1, 2]}}]));
    assert_eq!(Value::Object(p.process(entry(json!("x"))).unwrap().resource), json!({"env": {"a": [1, 2]}}));
}

#[test]
fn standalone_time_and_severity_parsers() {
    let p = pipeline(json!([
        {"type": "json_parser", "parse_to": "body"},
        {"type": "time_parser", "parse_from": "body.time", "layout": "%Y-%m-%dT%H:%M:%S.%LZ"},
        {"type": "severity_parser", "parse_from": "body.lvl", "mapping": {"fatal": "crit"}}]));
    let e = p.process(entry(json!("{\"time\": \"2022-01-02T14:24:56.123123123Z\", \"lvl\": \"CRIT\"}"))).unwrap();
    assert_eq!(e.timestamp, Some(1_641_133_496_123_123_123));
    assert_eq!(e.severity, 21);
}

#[test]
fn outputs_decide_the_order() {
    let p = pipeline(json!([
        {"type": "add", "id": "a", "field": "attributes.a", "value": 1, "output": "c"},
        {"type": "add", "id": "b", "field": "attributes.b", "value": 2},
        {"type": "add", "id": "c", "field": "attributes.c", "value": 3}]));
    assert_eq!(p.ids(), ["a", "c"]);
    assert_eq!(attrs(&p.process(entry(json!("x"))).unwrap()), json!({"a": 1, "c": 3}));
    let p = pipeline(json!([{"type": "noop", "output": ["end"]}, {"type": "remove", "id": "end", "field": "body"}]));
    assert_eq!(p.ids(), ["noop", "end"]);
}

#[test]
fn refusals_carry_the_key_path() {
    let e = err(json!([{"type": "json_parser"}, {"type": "csv_parser"}]));
    assert_eq!(e.path, "operators.1.type");
    assert!(e.message.contains("not supported by this collector"), "{}", e.message);
    assert!(err(json!([{"type": "jsno_parser"}])).message.contains("unknown operator type \"jsno_parser\""));
    assert_eq!(err(json!([{"type": "regex_parser", "regex": "(a)"}])).path, "operators.0.regex");
    assert_eq!(err(json!([{"type": "regex_parser", "regex": "(?P<a>x)", "regexx": 1}])).path, "operators.0.regexx");
    assert_eq!(
        err(json!([{"type": "json_parser", "timestamp": {"parse_from": "body.t", "layout": "%Q"}}])).path,
        "operators.0.timestamp.layout"
    );
    assert_eq!(
        err(json!([{"type": "json_parser", "severity": {"parse_from": "body", "mapping": {"loud": 1}}}])).path,
        "operators.0.severity.mapping.loud"
    );
    assert_eq!(
        err(json!([{"type": "add", "field": "body.a", "value": 1}, {"type": "add", "field": "body.b", "value": 1}]))
            .path,
        "operators.1.id"
    );
    assert_eq!(err(json!([{"type": "noop", "output": ["a", "b"]}])).path, "operators.0.output");
    assert_eq!(err(json!([{"type": "noop", "output": "nowhere"}])).path, "operators.0.output");
    assert_eq!(err(json!([{"type": "noop", "id": "x", "output": "x"}])).path, "operators.0.output");
    assert_eq!(err(json!([{"type": "noop", "on_error": "explode"}])).path, "operators.0.on_error");
    assert_eq!(err(json!([{"type": "noop", "if": "body == 'x'"}])).path, "operators.0.if");
    assert_eq!(err(json!([{"type": "move", "from": "body.a"}])).path, "operators.0.to");
    assert_eq!(err(json!(["json_parser"])).path, "operators.0");
}
