//! From discovered target groups to scrape targets, as Prometheus's
//! `scrape.PopulateLabels`: the scrape config's defaults (`job`,
//! `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
//! `__scrape_timeout__`, `__param_*`) under the group's labels, then
//! `relabel_configs`; `__meta_*` labels go, `instance` defaults to
//! `__address__`, and the remaining `__` labels say how to scrape.

use std::time::Duration;

use super::relabel::{self, Labels, Rule};
use crate::config::types::parse_go_duration;

/// A target ready to scrape: where, how often, and its own labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetSpec {
    pub url: String,
    pub scheme: String,
    pub interval: Duration,
    pub timeout: Duration,
    /// the target's labels, `job` and `instance` included, no `__` labels
    pub labels: Labels,
}

/// What a scrape config contributes to each of its targets.
pub struct Defaults<'a> {
    pub job: &'a str,
    pub scheme: &'a str,
    pub metrics_path: &'a str,
    pub interval: Duration,
    pub timeout: Duration,
    pub params: &'a std::collections::BTreeMap<String, Vec<String>>,
}

fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_nanos() != 0 {
        format!("{}ms", d.as_millis())
    } else if s != 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s != 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Builds the target for one address of a group, or `None` when relabeling
/// drops it; an error when the relabeled labels cannot be scraped.
pub fn populate(address: &str, group: &Labels, d: &Defaults, rules: &[Rule]) -> Result<Option<TargetSpec>, String> {
    let mut l = group.clone();
    l.insert("__address__".into(), address.to_owned());
    let defaults = [
        ("job", d.job.to_owned()),
        ("__scheme__", d.scheme.to_owned()),
        ("__metrics_path__", d.metrics_path.to_owned()),
        ("__scrape_interval__", go_duration(d.interval)),
        ("__scrape_timeout__", go_duration(d.timeout)),
    ];
    for (k, v) in defaults {
        l.entry(k.into()).or_insert(v);
    }
    for (k, vs) in d.params {
        if let Some(v) = vs.first() {
            l.entry(format!("__param_{k}")).or_insert_with(|| v.clone());
        }
    }
    if !relabel::process(&mut l, rules) {
        return Ok(None);
    }
    l.retain(|k, _| !k.starts_with("__meta_"));
    let address = l.get("__address__").cloned().unwrap_or_default();
    if address.is_empty() {
        return Err("no address: relabeling left __address__ empty".into());
    }
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid address (host:port)"));
    }
    l.entry("instance".into()).or_insert_with(|| address.clone());
    let duration = |k: &str| {
        let v = l.get(k).cloned().unwrap_or_default();
        parse_go_duration(&v).map_err(|e| format!("{k} {v:?}: {e}"))
    };
    let interval = duration("__scrape_interval__")?;
    let timeout = duration("__scrape_timeout__")?;
    if interval.is_zero() {
        return Err("__scrape_interval__ must not be zero".into());
    }
    if timeout > interval {
        return Err(format!("__scrape_timeout__ {timeout:?} is greater than __scrape_interval__ {interval:?}"));
    }
    let scheme = l.get("__scheme__").cloned().unwrap_or_default();
    if scheme != "http" && scheme != "https" {
        return Err(format!("__scheme__ {scheme:?} must be http or https"));
    }
    let path = l.get("__metrics_path__").cloned().unwrap_or_default();
    // every value of `params`, the first of each replaced by its `__param_` label
    let mut params: std::collections::BTreeMap<String, Vec<String>> = d.params.clone();
    for (k, v) in &l {
        if let Some(p) = k.strip_prefix("__param_") {
            match params.get_mut(p) {
                Some(vs) if !vs.is_empty() => vs[0] = v.clone(),
                _ => {
                    params.insert(p.to_owned(), vec![v.clone()]);
                }
            }
        }
    }
    let query: Vec<String> =
        params.iter().flat_map(|(k, vs)| vs.iter().map(move |v| format!("{}={}", encode(k), encode(v)))).collect();
    let mut url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        url = format!("{url}?{}", query.join("&"));
    }
    l.retain(|k, _| !k.starts_with("__"));
    Ok(Some(TargetSpec { url, scheme, interval, timeout, labels: l }))
}

/// Percent-encodes a query component.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receivers::prometheus::relabel::{compile_all, RelabelConfig};
    use std::collections::BTreeMap;

    fn defaults(params: &BTreeMap<String, Vec<String>>) -> Defaults<'_> {
        Defaults {
            job: "node",
            scheme: "http",
            metrics_path: "/metrics",
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            params,
        }
    }

    fn rules(v: serde_json::Value) -> Vec<Rule> {
        compile_all(&serde_json::from_value::<Vec<RelabelConfig>>(v).unwrap()).unwrap()
    }

    #[test]
    fn defaults_apply_and_meta_labels_go() {
        let params = BTreeMap::from([("collect[]".to_string(), vec!["cpu".to_string(), "load avg".to_string()])]);
        let group: Labels =
            [("__meta_filepath".to_string(), "/t.json".to_string()), ("env".into(), "prod".into())].into();
        let t = populate("h:9100", &group, &defaults(&params), &[]).unwrap().unwrap();
        assert_eq!(t.url, "http://h:9100/metrics?collect%5B%5D=cpu&collect%5B%5D=load%20avg");
        assert_eq!((t.interval, t.timeout), (Duration::from_secs(15), Duration::from_secs(10)));
        let want: Labels = [("env", "prod"), ("instance", "h:9100"), ("job", "node")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        assert_eq!(t.labels, want);
    }

    #[test]
    fn relabeling_rewrites_how_to_scrape_and_drops() {
        let params = BTreeMap::new();
        let r = rules(serde_json::json!([
            {"source_labels": ["__meta_filepath"], "regex": ".*/skip\\.json", "action": "drop"},
            {"source_labels": ["__address__"], "regex": "(.*):\\d+", "target_label": "__address__", "replacement": "$1:8080"},
            {"target_label": "__metrics_path__", "replacement": "/probe"},
            {"target_label": "__scrape_interval__", "replacement": "1m"},
            {"source_labels": ["__address__"], "target_label": "instance", "regex": "(.*):.*"}
        ]));
        let keep: Labels = [("__meta_filepath".to_string(), "/a.json".to_string())].into();
        let t = populate("h:9100", &keep, &defaults(&params), &r).unwrap().unwrap();
        assert_eq!(t.url, "http://h:8080/probe");
        assert_eq!(t.interval, Duration::from_secs(60));
        assert_eq!(t.labels["instance"], "h");
        let skip: Labels = [("__meta_filepath".to_string(), "/skip.json".to_string())].into();
        assert_eq!(populate("h:9100", &skip, &defaults(&params), &r).unwrap(), None);
        let bad = rules(serde_json::json!([{"target_label": "__scheme__", "replacement": "ftp"}]));
        assert!(populate("h:1", &Labels::new(), &defaults(&params), &bad).unwrap_err().contains("http or https"));
    }
}
