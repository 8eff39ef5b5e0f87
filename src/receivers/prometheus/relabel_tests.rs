//! Golden cases from prometheus/prometheus `model/relabel/relabel_test.go`
//! (`TestRelabel`, `TestRelabelValidate`, `TestTargetLabelValidity`), one
//! test per action, with the inputs and expected outputs copied from there.

use super::*;
use serde_json::json;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn rules(v: serde_json::Value) -> Vec<Rule> {
    let configs: Vec<RelabelConfig> = serde_json::from_value(v).expect("relabel configs parse");
    compile_all(&configs).expect("relabel configs are valid")
}

fn run(input: &[(&str, &str)], v: serde_json::Value) -> Option<Labels> {
    let mut l = labels(input);
    process(&mut l, &rules(v)).then_some(l)
}

#[test]
fn replace_with_groups_and_defaults() {
    let abc = [("a", "foo"), ("b", "bar"), ("c", "baz")];
    let out = run(
        &abc,
        json!([{"source_labels": ["a"], "regex": "f(.*)", "target_label": "d", "replacement": "ch${1}-ch${1}"}]),
    );
    assert_eq!(out, Some(labels(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")])));
    let out = run(
        &abc,
        json!([
            {"source_labels": ["a", "b"], "regex": "f(.*);(.*)r", "target_label": "a", "replacement": "b${1}${2}m"},
            {"source_labels": ["c", "a"], "regex": "(b).*b(.*)ba(.*)", "target_label": "d", "replacement": "$1$2$2$3"}
        ]),
    );
    assert_eq!(out, Some(labels(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")])));
    // the regex is anchored: ".*(b).*" over "abc" captures "b"
    let out = run(&[("a", "abc")], json!([{"source_labels": ["a"], "regex": ".*(b).*", "target_label": "d"}]));
    assert_eq!(out, Some(labels(&[("a", "abc"), ("d", "b")])));
    // no match, no replacement
    let out = run(
        &[("a", "boo")],
        json!([{"source_labels": ["a"], "regex": "f", "target_label": "b", "replacement": "bar"}]),
    );
    assert_eq!(out, Some(labels(&[("a", "boo")])));
}

#[test]
fn replace_with_templated_target_label() {
    let rule = |target: &str, repl: &str| json!([{"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": target, "replacement": repl}]);
    assert_eq!(
        run(&[("a", "some-name-value")], rule("${1}", "${2}")),
        Some(labels(&[("a", "some-name-value"), ("name", "value")]))
    );
    // an empty replacement deletes (here: sets nothing)
    assert_eq!(run(&[("a", "some-name-value")], rule("${1}", "${3}")), Some(labels(&[("a", "some-name-value")])));
    // an invalid expanded target label is skipped
    assert_eq!(run(&[("a", "some-name-0")], rule("${3}", "${1}")), Some(labels(&[("a", "some-name-0")])));
}

#[test]
fn replace_real_life_tags() {
    let out = run(
        &[("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar")],
        json!([
            {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)path:(/[^,]+).*", "replacement": "${1}", "target_label": "__metrics_path__"},
            {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)job:([^,]+).*", "replacement": "${1}", "target_label": "job"},
            {"source_labels": ["__meta_sd_tags"], "regex": "(?:.+,|^)label:([^=]+)=([^,]+).*", "replacement": "${2}", "target_label": "${1}"}
        ]),
    );
    assert_eq!(
        out,
        Some(labels(&[
            ("__meta_sd_tags", "path:/secret,job:some-job,label:foo=bar"),
            ("__metrics_path__", "/secret"),
            ("job", "some-job"),
            ("foo", "bar"),
        ]))
    );
}

#[test]
fn drop_and_keep() {
    assert_eq!(run(&[("a", "foo")], json!([{"source_labels": ["a"], "regex": ".*o.*", "action": "drop"}])), None);
    assert_eq!(
        run(&[("a", "foo")], json!([{"source_labels": ["a"], "regex": "no-match", "action": "drop"}])),
        Some(labels(&[("a", "foo")]))
    );
    // anchored: "f|o" matches neither all of "foo"
    assert_eq!(
        run(&[("a", "foo")], json!([{"source_labels": ["a"], "regex": "f|o", "action": "drop"}])),
        Some(labels(&[("a", "foo")]))
    );
    assert_eq!(run(&[("a", "foo")], json!([{"source_labels": ["a"], "regex": "no-match", "action": "keep"}])), None);
    assert_eq!(
        run(&[("a", "foo")], json!([{"source_labels": ["a"], "regex": "f.*", "action": "KEEP"}])),
        Some(labels(&[("a", "foo")]))
    );
}

#[test]
fn keepequal_and_dropequal() {
    let ports = [("__tmp_port", "1234"), ("__port1", "1234"), ("__port2", "5678")];
    let rule = |action: &str, target: &str| json!([{"source_labels": ["__tmp_port"], "action": action, "target_label": target}]);
    assert_eq!(run(&ports, rule("keepequal", "__port1")), Some(labels(&ports)));
    assert_eq!(run(&ports, rule("dropequal", "__port1")), None);
    assert_eq!(run(&ports, rule("dropequal", "__port2")), Some(labels(&ports)));
    assert_eq!(run(&ports, rule("keepequal", "__port2")), None);
}

#[test]
fn hashmod_matches_prometheus() {
    let out = run(
        &[("a", "foo"), ("b", "bar"), ("c", "baz")],
        json!([{"source_labels": ["c"], "target_label": "d", "action": "hashmod", "modulus": 1000}]),
    );
    assert_eq!(out.unwrap()["d"], "976");
    let out = run(
        &[("a", "foo\nbar")],
        json!([{"source_labels": ["a"], "target_label": "b", "action": "hashmod", "modulus": 1000}]),
    );
    assert_eq!(out.unwrap()["b"], "734");
}

#[test]
fn labelmap() {
    let out = run(
        &[("a", "foo"), ("b1", "bar"), ("b2", "baz")],
        json!([{"regex": "(b.*)", "replacement": "bar_${1}", "action": "labelmap"}]),
    );
    assert_eq!(out, Some(labels(&[("a", "foo"), ("b1", "bar"), ("b2", "baz"), ("bar_b1", "bar"), ("bar_b2", "baz")])));
    let input = [("a", "foo"), ("__meta_my_bar", "aaa"), ("__meta_my_baz", "bbb"), ("__meta_other", "ccc")];
    let out = run(&input, json!([{"regex": "__meta_(my.*)", "replacement": "${1}", "action": "labelmap"}]));
    let mut want = labels(&input);
    want.extend(labels(&[("my_bar", "aaa"), ("my_baz", "bbb")]));
    assert_eq!(out, Some(want));
}

#[test]
fn labeldrop_and_labelkeep() {
    let input = [("a", "foo"), ("b1", "bar"), ("b2", "baz")];
    assert_eq!(
        run(&input, json!([{"regex": "(b.*)", "action": "labelkeep"}])),
        Some(labels(&[("b1", "bar"), ("b2", "baz")]))
    );
    assert_eq!(run(&input, json!([{"regex": "(b.*)", "action": "labeldrop"}])), Some(labels(&[("a", "foo")])));
    // prometheus issue 12283: labeldrop, then replace recreates, then keep
    let out = run(
        &[
            ("__meta_kubernetes_pod_container_port_name", "foo"),
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
        ],
        json!([
            {"regex": "^__meta_kubernetes_pod_container_port_name$", "action": "labeldrop"},
            {"source_labels": ["__meta_kubernetes_pod_annotation_XXX_metrics_port"], "regex": "(.+)", "replacement": "metrics", "target_label": "__meta_kubernetes_pod_container_port_name"},
            {"source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": "^metrics$", "action": "keep"}
        ]),
    );
    assert_eq!(
        out,
        Some(labels(&[
            ("__meta_kubernetes_pod_annotation_XXX_metrics_port", "9091"),
            ("__meta_kubernetes_pod_container_port_name", "metrics"),
        ]))
    );
}

#[test]
fn lowercase_and_uppercase() {
    let out = run(
        &[("foo", "bAr123Foo")],
        json!([
            {"source_labels": ["foo"], "action": "uppercase", "target_label": "foo_uppercase"},
            {"source_labels": ["foo"], "action": "lowercase", "target_label": "foo_lowercase"}
        ]),
    );
    assert_eq!(
        out,
        Some(labels(&[("foo", "bAr123Foo"), ("foo_lowercase", "bar123foo"), ("foo_uppercase", "BAR123FOO")]))
    );
}

#[test]
fn validation_errors_as_prometheus() {
    let err = |v: serde_json::Value| serde_json::from_value::<RelabelConfig>(v).unwrap().compile().unwrap_err();
    assert!(err(json!({"action": ""})).contains("relabel action cannot be empty"));
    assert!(err(json!({"action": "replace"})).contains("requires 'target_label' value"));
    assert!(err(json!({"action": "lowercase"})).contains("requires 'target_label' value"));
    assert!(err(json!({"action": "lowercase", "target_label": "${3}"})).contains("\"${3}\" is invalid 'target_label'"));
    assert!(
        err(json!({"source_labels": ["a"], "target_label": "0${3}"})).contains("\"0${3}\" is invalid 'target_label'")
    );
    assert!(err(json!({"source_labels": ["a"], "target_label": "-${3}"}))
        .contains("\"-${3}\" is invalid 'target_label' for replace action"));
    assert!(err(json!({"action": "hashmod", "target_label": "x"})).contains("non-zero modulus"));
    assert!(err(json!({"action": "labeldrop", "source_labels": ["a"]})).contains("requires only 'regex'"));
    assert!(err(json!({"action": "explode"})).contains("unknown relabel action"));
    assert!(err(json!({"regex": "(", "target_label": "x"})).contains("does not compile"));
    let ok = serde_json::from_value::<RelabelConfig>(
        json!({"source_labels": ["a"], "regex": "some-([^-]+)-([^,]+)", "target_label": "${3}"}),
    );
    assert!(ok.unwrap().compile().is_ok());
}

#[test]
fn target_label_validity() {
    for (s, valid) in [
        ("-label", false),
        ("label", true),
        ("label${1}", true),
        ("${1}label", true),
        ("${1}", true),
        ("${", false),
        ("$", false),
        ("${}", false),
        ("foo${", false),
        ("$1", true),
        ("asd$2asd", true),
        ("-foo${1}bar-", false),
        ("_${1}_", true),
        ("foo${bar}foo", true),
    ] {
        assert_eq!(relabel_target().is_match(s), valid, "{s:?}");
    }
}
