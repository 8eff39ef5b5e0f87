//! The scrape loops: one task per scrape config keeps the set of targets its
//! providers (static_configs, each file_sd config) discover, starting a loop
//! for each new target and stopping the loops of targets that went away;
//! each loop scrapes, applies honor_labels/honor_timestamps and
//! `metric_relabel_configs`, and hands the result to the pipeline as OTLP.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::BasicAuth;
use super::file_sd::Group;
use super::relabel::{self, Labels, Rule};
use super::targets::{populate, Defaults, TargetSpec};
use super::{convert, parse};
use crate::component::Consumer;
use crate::otlp::data::Decoded;
use crate::signal::Batch;

/// Everything one scrape config's loops share.
pub struct JobSettings {
    pub job: String,
    pub scheme: String,
    pub metrics_path: String,
    pub interval: std::time::Duration,
    pub timeout: std::time::Duration,
    pub params: BTreeMap<String, Vec<String>>,
    pub relabel: Vec<Rule>,
    pub metric_relabel: Vec<Rule>,
    pub honor: Honor,
    pub external_labels: Labels,
    pub auth: Option<(String, String)>,
    pub basic: Option<BasicAuth>,
    pub accept: String,
    pub has_fallback: bool,
    pub client: reqwest::Client,
    pub consumer: Arc<dyn Consumer>,
    pub receiver: String,
    /// `trim_metric_suffixes`
    pub trim_suffixes: bool,
    /// `use_start_time_metric` with its regex
    pub start_time_metric: Option<regex::Regex>,
}

/// `honor_labels` and `honor_timestamps`.
pub struct Honor {
    pub labels: bool,
    pub timestamps: bool,
}

/// Keeps one job's targets in step with what its providers report: each
/// update is (provider index, that provider's full list of groups).
pub async fn run_job(s: Arc<JobSettings>, mut updates: mpsc::Receiver<(usize, Vec<Group>)>, stop: CancellationToken) {
    let mut groups: BTreeMap<usize, Vec<Group>> = BTreeMap::new();
    let mut running: BTreeMap<TargetSpec, (CancellationToken, tokio::task::JoinHandle<()>)> = BTreeMap::new();
    loop {
        let update = tokio::select! {
            _ = stop.cancelled() => break,
            u = updates.recv() => u,
        };
        let Some((provider, list)) = update else {
            stop.cancelled().await;
            break;
        };
        groups.insert(provider, list);
        let wanted = targets(&s, &groups);
        running.retain(|spec, (token, _)| {
            let keep = wanted.contains(spec);
            if !keep {
                tracing::info!(receiver = %s.receiver, job = %s.job, target = %spec.url, "target removed");
                token.cancel();
            }
            keep
        });
        for spec in wanted {
            if let std::collections::btree_map::Entry::Vacant(slot) = running.entry(spec) {
                let token = stop.child_token();
                let handle = tokio::spawn(scrape_loop(s.clone(), slot.key().clone(), token.clone()));
                slot.insert((token, handle));
            }
        }
    }
    // the receiver has stopped only when no loop can still hand over a scrape
    for (token, handle) in running.into_values() {
        token.cancel();
        let _ = handle.await;
    }
}

fn targets(s: &JobSettings, groups: &BTreeMap<usize, Vec<Group>>) -> std::collections::BTreeSet<TargetSpec> {
    let d = Defaults {
        job: &s.job,
        scheme: &s.scheme,
        metrics_path: &s.metrics_path,
        interval: s.interval,
        timeout: s.timeout,
        params: &s.params,
    };
    let mut out = std::collections::BTreeSet::new();
    for g in groups.values().flatten() {
        for address in &g.targets {
            match populate(address, &g.labels, &d, &s.relabel) {
                Ok(Some(t)) => {
                    out.insert(t);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(receiver = %s.receiver, job = %s.job, address, error = %e, "target skipped"),
            }
        }
    }
    out
}

async fn scrape_loop(s: Arc<JobSettings>, t: TargetSpec, stop: CancellationToken) {
    let mut starts = convert::StartTimes::default();
    let mut tick = tokio::time::interval(t.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut labels = s.external_labels.clone();
    labels.extend(t.labels.clone());
    let job = labels.get("job").cloned().unwrap_or_default();
    let instance = labels.get("instance").cloned().unwrap_or_default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let began = std::time::Instant::now();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64;
        let scraped = fetch(&s, &t).await;
        let duration = began.elapsed().as_secs_f64();
        let (mut families, up) = match scraped {
            Ok(f) => (f, 1.0),
            Err(e) => {
                tracing::warn!(receiver = %s.receiver, target = %t.url, error = %e, "scrape failed");
                (Vec::new(), 0.0)
            }
        };
        let samples = families.iter().map(|f| f.samples.len()).sum::<usize>() as f64;
        for f in &mut families {
            f.samples.retain_mut(|sample| label_sample(sample, &labels, &s.honor, &s.metric_relabel));
        }
        families.retain(|f| !f.samples.is_empty());
        let extra = vec![
            convert::synthetic("up", "", up, now),
            convert::synthetic("scrape_duration_seconds", "s", duration, now),
            convert::synthetic("scrape_samples_scraped", "", samples, now),
        ];
        let target = convert::Target { job: &job, instance: &instance, scheme: &t.scheme };
        if let Some(re) = &s.start_time_metric {
            if let Err(e) = starts.use_process_start(&families, re) {
                tracing::warn!(receiver = %s.receiver, target = %t.url, "use_start_time_metric: {e}; start times fall back to when each series was first seen");
            }
        }
        let resource = convert::to_otlp(&families, &target, &mut starts, now, extra, s.trim_suffixes);
        let batch = Batch::from_decoded(Decoded::Metrics(vec![resource]));
        if let Err(e) = s.consumer.consume(batch).await {
            tracing::warn!(receiver = %s.receiver, target = %t.url, error = %e, "the pipeline refused a scrape");
        }
    }
}

/// Gives a sample its final labels as Prometheus's `mutateSampleLabels`
/// (target labels win and clashing scraped ones become `exported_<name>`,
/// unless honor_labels), then runs metric_relabel_configs over them with
/// `__name__`; `false` drops the sample. `job` and `instance` leave the
/// labels: they are the resource.
fn label_sample(sample: &mut parse::Sample, target: &Labels, honor: &Honor, metric_relabel: &[Rule]) -> bool {
    let mut l = std::mem::take(&mut sample.labels);
    for (k, v) in target {
        if honor.labels {
            l.entry(k.clone()).or_insert_with(|| v.clone());
        } else {
            if let Some(scraped) = l.remove(k) {
                let mut name = format!("exported_{k}");
                while l.contains_key(&name) || target.contains_key(&name) {
                    name = format!("exported_{name}");
                }
                l.insert(name, scraped);
            }
            l.insert(k.clone(), v.clone());
        }
    }
    if !honor.timestamps {
        sample.timestamp_ms = None;
    }
    if !metric_relabel.is_empty() {
        l.insert("__name__".into(), sample.name.clone());
        if !relabel::process(&mut l, metric_relabel) {
            return false;
        }
        match l.remove("__name__") {
            Some(name) => sample.name = name,
            None => return false,
        }
    }
    l.remove("job");
    l.remove("instance");
    sample.labels = l;
    true
}

async fn fetch(s: &JobSettings, t: &TargetSpec) -> Result<Vec<parse::Family>, String> {
    let mut req = s
        .client
        .get(&t.url)
        .timeout(t.timeout)
        .header("accept", &s.accept)
        .header("x-prometheus-scrape-timeout-seconds", t.timeout.as_secs_f64().to_string());
    if let Some((kind, credentials)) = &s.auth {
        req = req.header("authorization", format!("{kind} {credentials}"));
    }
    if let Some(b) = &s.basic {
        req = req.basic_auth(&b.username, Some(&b.password));
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let media = content_type.split(';').next().unwrap_or("").trim().to_lowercase();
    if media != "text/plain" && media != "application/openmetrics-text" && !s.has_fallback {
        return Err(format!(
            "the target sent Content-Type {content_type:?}, not a text exposition format; set \
             fallback_scrape_protocol (e.g. PrometheusText0.0.4) to parse it anyway"
        ));
    }
    let text = resp.text().await.map_err(|e| e.to_string())?;
    parse::parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receivers::prometheus::relabel::{compile_all, RelabelConfig};

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn sample(name: &str, pairs: &[(&str, &str)]) -> parse::Sample {
        parse::Sample { name: name.into(), labels: labels(pairs), value: 1.0, timestamp_ms: Some(5) }
    }

    #[test]
    fn target_labels_win_unless_honored() {
        let target = labels(&[("job", "node"), ("instance", "h:1"), ("env", "prod")]);
        let mut s = sample("m", &[("job", "app"), ("env", "dev"), ("exported_env", "x"), ("k", "v")]);
        assert!(label_sample(&mut s, &target, &Honor { labels: false, timestamps: true }, &[]));
        let want = labels(&[
            ("env", "prod"),
            ("exported_env", "x"),
            ("exported_exported_env", "dev"),
            ("exported_job", "app"),
            ("k", "v"),
        ]);
        assert_eq!((s.labels, s.timestamp_ms), (want, Some(5)));
        let mut s = sample("m", &[("env", "dev")]);
        assert!(label_sample(&mut s, &target, &Honor { labels: true, timestamps: false }, &[]));
        assert_eq!((s.labels, s.timestamp_ms), (labels(&[("env", "dev")]), None));
    }

    #[test]
    fn metric_relabeling_sees_name_and_target_labels() {
        let rules = compile_all(
            &serde_json::from_value::<Vec<RelabelConfig>>(serde_json::json!([
                {"source_labels": ["__name__"], "regex": "debug_.*", "action": "drop"},
                {"source_labels": ["job", "status"], "target_label": "__name__", "regex": "node;(.*)", "replacement": "status_${1}"},
                {"regex": "status", "action": "labeldrop"}
            ]))
            .unwrap(),
        )
        .unwrap();
        let target = labels(&[("job", "node"), ("instance", "h:1")]);
        let honor = Honor { labels: false, timestamps: true };
        assert!(!label_sample(&mut sample("debug_x", &[]), &target, &honor, &rules));
        let mut s = sample("m", &[("status", "ok")]);
        assert!(label_sample(&mut s, &target, &honor, &rules));
        assert_eq!((s.name.as_str(), s.labels), ("status_ok", Labels::new()));
    }
}
