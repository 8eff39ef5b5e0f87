//! The receiver's configuration: otelcol's `config` key holding a Prometheus
//! configuration, with Prometheus's names and defaults, its validation, and
//! `scrape_config_files` read in as Prometheus does (globs in the last path
//! element, each file a `scrape_configs:` list).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::file_sd::{self, FileSdConfig};
use super::relabel::{compile_all, RelabelConfig};
use crate::component::{Invalid, Validate};
use crate::config::types::GoDuration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusReceiverConfig {
    pub config: ScrapeFile,
    /// also trim the unit suffix (`_seconds` of a family whose unit is
    /// `seconds`), as otelcol's `TrimPromSuffixes`; counters always lose `_total`
    pub trim_metric_suffixes: bool,
    /// take the start time of every cumulative point from the process start
    /// metric the target exposes (seconds since the epoch)
    pub use_start_time_metric: bool,
    /// which metric that is; otelcol's default when unset
    pub start_time_metric_regex: Option<String>,
    /// refused: needs the OpenTelemetry Operator's target allocator
    pub target_allocator: Option<Value>,
    /// refused when true (see `validate`)
    pub report_extra_scrape_metrics: bool,
    pub enable_protobuf_negotiation: bool,
    pub enable_prometheus_ui_server: bool,
    pub api_server: Option<Value>,
}

/// The embedded Prometheus configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeFile {
    pub global: Global,
    pub scrape_configs: Vec<ScrapeConfig>,
    pub scrape_config_files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Global {
    pub scrape_interval: GoDuration,
    pub scrape_timeout: GoDuration,
    pub external_labels: BTreeMap<String, String>,
    pub scrape_protocols: Option<Vec<String>>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            scrape_interval: GoDuration::secs(60),
            scrape_timeout: GoDuration::secs(10),
            external_labels: BTreeMap::new(),
            scrape_protocols: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Option<GoDuration>,
    pub scrape_timeout: Option<GoDuration>,
    pub metrics_path: Option<String>,
    pub scheme: Option<String>,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: Option<bool>,
    pub scrape_protocols: Option<Vec<String>>,
    pub fallback_scrape_protocol: Option<String>,
    pub static_configs: Vec<StaticConfig>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub bearer_token: Option<String>,
    pub tls_config: Option<Value>,
    // service discovery otelstack refuses (see `validate`)
    pub kubernetes_sd_configs: Option<Value>,
    pub consul_sd_configs: Option<Value>,
    pub dns_sd_configs: Option<Value>,
    pub http_sd_configs: Option<Value>,
    pub docker_sd_configs: Option<Value>,
    pub ec2_sd_configs: Option<Value>,
    pub azure_sd_configs: Option<Value>,
    pub gce_sd_configs: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticConfig {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth {{ username: {:?}, password: <redacted> }}", self.username)
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Authorization {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub credentials: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Authorization {{ type: {:?}, credentials: <redacted> }}", self.kind)
    }
}

/// Prometheus's scrape protocol names and the media types they ask for.
const PROTOCOLS: [(&str, &str); 5] = [
    ("PrometheusProto", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"),
    ("OpenMetricsText0.0.1", "application/openmetrics-text;version=0.0.1"),
    ("OpenMetricsText1.0.0", "application/openmetrics-text;version=1.0.0"),
    ("PrometheusText0.0.4", "text/plain;version=0.0.4"),
    ("PrometheusText1.0.0", "text/plain;version=1.0.0"),
];

/// Prometheus 3's default `scrape_protocols`.
pub const DEFAULT_PROTOCOLS: [&str; 4] =
    ["OpenMetricsText1.0.0", "OpenMetricsText0.0.1", "PrometheusText1.0.0", "PrometheusText0.0.4"];

fn check_protocol(p: &str) -> Result<(), String> {
    if p == "PrometheusProto" {
        return Err("PrometheusProto is not supported: otelstack parses the text formats only; list \
                    OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0 or PrometheusText0.0.4"
            .into());
    }
    if PROTOCOLS.iter().any(|(n, _)| *n == p) {
        Ok(())
    } else {
        Err(format!(
            "unknown scrape protocol {p:?}: use OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText1.0.0 \
             or PrometheusText0.0.4"
        ))
    }
}

/// The Accept header Prometheus sends for these protocols, weights descending.
pub fn accept_header(protocols: &[String]) -> String {
    let mut weight = PROTOCOLS.len() + 1;
    let mut vals = Vec::new();
    for p in protocols {
        if let Some((_, media)) = PROTOCOLS.iter().find(|(n, _)| n == p) {
            vals.push(format!("{media};q=0.{weight}"));
            weight -= 1;
        }
    }
    vals.push(format!("*/*;q=0.{weight}"));
    vals.join(",")
}

impl ScrapeConfig {
    pub fn protocols(&self, global: &Global) -> Vec<String> {
        self.scrape_protocols
            .clone()
            .or_else(|| global.scrape_protocols.clone())
            .unwrap_or_else(|| DEFAULT_PROTOCOLS.iter().map(|s| s.to_string()).collect())
    }

    fn validate(&self, global: &Global) -> Result<(), (String, String)> {
        let e = |k: &str, m: String| Err((k.to_owned(), m));
        if self.job_name.is_empty() {
            return e("job_name", "is required".into());
        }
        let refused = [
            ("kubernetes_sd_configs", self.kubernetes_sd_configs.is_some()),
            ("consul_sd_configs", self.consul_sd_configs.is_some()),
            ("dns_sd_configs", self.dns_sd_configs.is_some()),
            ("http_sd_configs", self.http_sd_configs.is_some()),
            ("docker_sd_configs", self.docker_sd_configs.is_some()),
            ("ec2_sd_configs", self.ec2_sd_configs.is_some()),
            ("azure_sd_configs", self.azure_sd_configs.is_some()),
            ("gce_sd_configs", self.gce_sd_configs.is_some()),
        ];
        if let Some((key, _)) = refused.iter().find(|(_, set)| *set) {
            return e(
                key,
                "is not supported: otelstack discovers targets only from static_configs and file_sd_configs; \
                 list the targets there, or have your platform write a file_sd file"
                    .into(),
            );
        }
        if self.tls_config.is_some() {
            return e("tls_config", "scraping over TLS is not supported yet".into());
        }
        if !matches!(self.scheme.as_deref(), None | Some("http" | "https")) {
            return e("scheme", "must be http or https".into());
        }
        for (j, st) in self.static_configs.iter().enumerate() {
            for t in &st.targets {
                crate::config::types::split_host_port(t).map_err(|m| (format!("static_configs.{j}.targets"), m))?;
            }
        }
        for (j, f) in self.file_sd_configs.iter().enumerate() {
            f.validate().map_err(|m| (format!("file_sd_configs.{j}"), m))?;
        }
        compile_all(&self.relabel_configs).map_err(|m| ("relabel_configs".to_owned(), m))?;
        compile_all(&self.metric_relabel_configs).map_err(|m| ("metric_relabel_configs".to_owned(), m))?;
        for p in self.protocols(global) {
            check_protocol(&p).map_err(|m| ("scrape_protocols".to_owned(), m))?;
        }
        if let Some(p) = &self.fallback_scrape_protocol {
            check_protocol(p).map_err(|m| ("fallback_scrape_protocol".to_owned(), m))?;
        }
        let interval = self.scrape_interval.unwrap_or(global.scrape_interval).0;
        let timeout = self.scrape_timeout.unwrap_or(global.scrape_timeout).0;
        if self.scrape_timeout.is_some() && timeout > interval {
            return e("scrape_timeout", "must not be greater than scrape_interval".into());
        }
        Ok(())
    }
}

/// A file of `scrape_config_files`: scrape configs only.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ScrapeConfigFile {
    scrape_configs: Vec<ScrapeConfig>,
}

impl ScrapeFile {
    /// The inline scrape configs followed by those of `scrape_config_files`.
    pub fn all_scrape_configs(&self) -> Result<Vec<ScrapeConfig>, String> {
        let mut out = self.scrape_configs.clone();
        for pattern in &self.scrape_config_files {
            for path in file_sd::glob(pattern) {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let value = super::yaml::to_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                let value = if value.is_null() { Value::Object(Default::default()) } else { value };
                let file: ScrapeConfigFile = serde_json::from_value(value)
                    .map_err(|e| format!("{}: not a file of scrape_configs: {e}", path.display()))?;
                out.extend(file.scrape_configs);
            }
        }
        Ok(out)
    }
}

/// otelcol's default `start_time_metric_regex`.
pub const START_TIME_METRIC: &str = "^(.+_)*process_start_time_seconds$";

impl PrometheusReceiverConfig {
    /// The metric start times come from, when `use_start_time_metric` is on.
    pub fn start_time_metric(&self) -> Option<regex::Regex> {
        let re = self.start_time_metric_regex.as_deref().unwrap_or(START_TIME_METRIC);
        self.use_start_time_metric.then(|| regex::Regex::new(re).ok()).flatten()
    }
}

impl Validate for PrometheusReceiverConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.target_allocator.is_some() {
            return Err(Invalid::at(
                "target_allocator",
                "is not supported: otelstack does not talk to the OpenTelemetry Operator's target allocator; \
                 give each collector its targets with static_configs or file_sd_configs",
            ));
        }
        for (key, on, why) in [
            (
                "report_extra_scrape_metrics",
                self.report_extra_scrape_metrics,
                "the extra scrape_* series (sample limit, timeout, series added) are not produced; up, \
                 scrape_duration_seconds and scrape_samples_scraped are",
            ),
            (
                "enable_protobuf_negotiation",
                self.enable_protobuf_negotiation,
                "targets are scraped in the text formats (Prometheus text and OpenMetrics) only",
            ),
            (
                "enable_prometheus_ui_server",
                self.enable_prometheus_ui_server,
                "there is no Prometheus UI or API in the receiver",
            ),
            ("api_server", self.api_server.is_some(), "there is no Prometheus UI or API in the receiver"),
        ] {
            if on {
                return Err(Invalid::at(key, format!("is not supported: {why}; remove {key}")));
            }
        }
        if let Some(re) = &self.start_time_metric_regex {
            regex::Regex::new(re).map_err(|e| {
                Invalid::at("start_time_metric_regex", format!("{re:?} is not a regular expression: {e}"))
            })?;
        }
        let all = self.config.all_scrape_configs().map_err(|e| Invalid::at("config.scrape_config_files", e))?;
        // scrape_config_files may be absent where configs are validated (CI
        // without the deployment's files): start checks there are jobs then
        if all.is_empty() && self.config.scrape_config_files.is_empty() {
            return Err(Invalid::at(
                "config.scrape_configs",
                "add at least one scrape config with a job_name and static_configs or file_sd_configs",
            ));
        }
        if let Some(p) = &self.config.global.scrape_protocols {
            for p in p {
                check_protocol(p).map_err(|m| Invalid::at("config.global.scrape_protocols", m))?;
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, sc) in all.iter().enumerate() {
            sc.validate(&self.config.global)
                .map_err(|(k, m)| Invalid::at(format!("config.scrape_configs.{i}.{k}"), m))?;
            if !seen.insert(sc.job_name.clone()) {
                return Err(Invalid::at(
                    format!("config.scrape_configs.{i}.job_name"),
                    format!("found multiple scrape configs with job name {:?}; job names must be unique", sc.job_name),
                ));
            }
        }
        Ok(())
    }
}
