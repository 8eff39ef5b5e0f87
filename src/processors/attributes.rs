//! The `attributes` processor: attribute actions on spans, metric data points
//! and log records, limited by `include`/`exclude` rules (see `filter`).

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde::Deserialize;

use super::actions::{compile_all, validate_actions, Action, ActionConfig};
use super::filter::{Context, Item, MatchProperties, MatchRule};
use super::Transform;
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltProcessor, Consumer, Factory, Invalid, ProcessorConfig, Validate,
};
use crate::otlp::data::Decoded;
use crate::signal::Signal;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub actions: Vec<ActionConfig>,
    pub include: Option<MatchProperties>,
    pub exclude: Option<MatchProperties>,
}

pub fn factory() -> Factory<dyn ProcessorConfig> {
    Factory {
        type_name: "attributes",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<AttributesConfig>(v)?)),
    }
}

impl AttributesConfig {
    fn rule(&self, signal: Option<Signal>) -> Result<MatchRule, Invalid> {
        MatchRule::build(self.include.as_ref(), self.exclude.as_ref(), signal)
    }
}

impl ProcessorConfig for AttributesConfig {
    fn validate_for(&self, signal: Signal) -> Result<(), Invalid> {
        MatchRule::check_signal(self.include.as_ref(), self.exclude.as_ref(), signal)
    }

    fn build(&self, _ctx: BuildContext, signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor> {
        let actions = compile_all(&self.actions, "actions")?;
        let rule = self.rule(Some(signal)).map_err(|e| anyhow::anyhow!("{}: {}", e.path, e.message))?;
        let transform = Transform::new(move |d: &mut Decoded| apply(d, &rule, &actions), next);
        Ok(BuiltProcessor { consumer: Arc::new(transform), running: None })
    }
}

/// Runs the actions on each item the rule selects; for metrics the rule
/// selects whole metrics and the actions run on all their data points.
fn apply(d: &mut Decoded, rule: &MatchRule, actions: &[Action]) {
    let act = |attrs: &mut Vec<KeyValue>| actions.iter().for_each(|a| a.apply(attrs));
    if rule.is_empty() {
        d.for_each_item_attributes(&mut |attrs| act(attrs));
        return;
    }
    match d {
        Decoded::Traces(v) => {
            for rs in v {
                for ss in &mut rs.scope_spans {
                    for span in &mut ss.spans {
                        let ctx = Context {
                            resource: rs.resource.as_ref(),
                            scope: ss.scope.as_ref(),
                            item: Item::Span(span),
                        };
                        if rule.applies(&ctx) {
                            act(&mut span.attributes);
                        }
                    }
                }
            }
        }
        Decoded::Logs(v) => {
            for rl in v {
                for sl in &mut rl.scope_logs {
                    for log in &mut sl.log_records {
                        let ctx =
                            Context { resource: rl.resource.as_ref(), scope: sl.scope.as_ref(), item: Item::Log(log) };
                        if rule.applies(&ctx) {
                            act(&mut log.attributes);
                        }
                    }
                }
            }
        }
        Decoded::Metrics(v) => {
            for rm in v {
                for sm in &mut rm.scope_metrics {
                    for metric in &mut sm.metrics {
                        let ctx = Context {
                            resource: rm.resource.as_ref(),
                            scope: sm.scope.as_ref(),
                            item: Item::Metric(metric),
                        };
                        if rule.applies(&ctx) {
                            crate::otlp::data::metric_attributes(metric, &mut |attrs| act(attrs));
                        }
                    }
                }
            }
        }
    }
}

impl Validate for AttributesConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.rule(None)?;
        validate_actions(&self.actions, "actions")
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use serde_json::json;

    use super::*;
    use crate::testkit::{gauge, kv, logs, metrics, s, spans};

    fn config(v: serde_json::Value) -> AttributesConfig {
        serde_json::from_value(v).unwrap()
    }

    fn run(cfg: &AttributesConfig, signal: Signal, d: &mut Decoded) {
        let rule = cfg.rule(Some(signal)).unwrap();
        let actions = compile_all(&cfg.actions, "actions").unwrap();
        apply(d, &rule, &actions);
    }

    fn tagged(attrs: &[KeyValue]) -> bool {
        attrs.iter().any(|kv| kv.key == "tagged")
    }

    fn tag_action() -> serde_json::Value {
        json!([{"key": "tagged", "value": true, "action": "insert"}])
    }

    #[test]
    fn spans_include_and_exclude() {
        let cfg = config(json!({
            "actions": tag_action(),
            "include": {"match_type": "regexp", "span_names": ["^op-"]},
            "exclude": {"match_type": "strict", "attributes": [{"key": "n", "value": 1}]},
        }));
        let mut rs = spans("svc", "op", 3);
        rs.scope_spans[0].spans.push(span_named("other"));
        let mut d = Decoded::Traces(vec![rs]);
        run(&cfg, Signal::Traces, &mut d);
        let Decoded::Traces(v) = d else { unreachable!() };
        let got: Vec<(String, bool)> =
            v[0].scope_spans[0].spans.iter().map(|s| (s.name.clone(), tagged(&s.attributes))).collect();
        let want = [("op-0", true), ("op-1", false), ("op-2", true), ("other", false)];
        assert_eq!(got, want.map(|(n, t)| (n.to_owned(), t)));
    }

    fn span_named(name: &str) -> opentelemetry_proto::tonic::trace::v1::Span {
        opentelemetry_proto::tonic::trace::v1::Span { name: name.into(), ..Default::default() }
    }

    #[test]
    fn logs_by_body_only_matching_records() {
        let cfg = config(json!({"actions": tag_action(), "include": {"match_type": "strict", "log_bodies": ["b"]}}));
        let mut d = Decoded::Logs(vec![logs("svc", &["a", "b", "c"])]);
        run(&cfg, Signal::Logs, &mut d);
        let Decoded::Logs(v) = d else { unreachable!() };
        let got: Vec<bool> = v[0].scope_logs[0].log_records.iter().map(|l| tagged(&l.attributes)).collect();
        assert_eq!(got, [false, true, false]);
    }

    #[test]
    fn metrics_excluded_by_name_keep_every_point() {
        let cfg =
            config(json!({"actions": tag_action(), "exclude": {"match_type": "strict", "metric_names": ["skip"]}}));
        let mut d = Decoded::Metrics(vec![metrics("svc", vec![gauge("keep", 2), gauge("skip", 2)])]);
        run(&cfg, Signal::Metrics, &mut d);
        let Decoded::Metrics(mut v) = d else { unreachable!() };
        let mut per_metric = Vec::new();
        for m in &mut v[0].scope_metrics[0].metrics {
            let mut points = Vec::new();
            crate::otlp::data::metric_attributes(m, &mut |a| points.push(tagged(a)));
            per_metric.push((m.name.clone(), points));
        }
        assert_eq!(per_metric, [("keep".to_owned(), vec![true, true]), ("skip".to_owned(), vec![false, false])]);
    }

    #[test]
    fn no_rule_changes_every_item() {
        let cfg = config(json!({"actions": [{"key": "env", "value": "prod", "action": "upsert"}]}));
        let mut d = Decoded::Traces(vec![spans("svc", "op", 2)]);
        run(&cfg, Signal::Traces, &mut d);
        let Decoded::Traces(v) = d else { unreachable!() };
        for sp in &v[0].scope_spans[0].spans {
            assert!(sp.attributes.contains(&kv("env", s("prod"))), "{:?}", sp.attributes);
            assert!(sp.attributes.contains(&kv("n", V::IntValue(sp.span_id[7] as i64 - 1))));
        }
    }

    #[test]
    fn signal_checks_run_per_pipeline_signal() {
        let cfg = config(json!({"actions": tag_action(), "include": {"match_type": "strict", "log_bodies": ["x"]}}));
        cfg.validate().unwrap();
        cfg.validate_for(Signal::Logs).unwrap();
        let e = cfg.validate_for(Signal::Traces).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("include.log_bodies", "log_bodies should not be specified for trace spans")
        );
        let bad = config(json!({"actions": tag_action(), "include": {"match_type": "regexp", "span_names": ["("]}}));
        assert_eq!(bad.validate().unwrap_err().path, "include.span_names.0");
    }
}
