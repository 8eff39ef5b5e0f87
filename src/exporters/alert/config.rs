//! The `alert` exporter's settings: target, grouping timers, labels, the
//! trace link template, queue and retry, with Alertmanager's defaults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::component::{Invalid, NeededFile, Validate};
use crate::config::types::GoDuration;
use crate::exporters::client::TlsClientConfig;
use crate::exporters::failure::LogsOptions;
use crate::exporters::helper::RetryConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Alertmanager,
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Json,
    Slack,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    pub target: Target,
    /// Alertmanager's base URL (`http://alertmanager:9093`) or the webhook URL
    pub endpoint: String,
    /// webhook body: `json` (documented) or `slack`
    pub format: Format,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub headers: BTreeMap<String, String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub tls: TlsClientConfig,
    pub group_wait: GoDuration,
    pub group_interval: GoDuration,
    pub repeat_interval: GoDuration,
    pub resolve_timeout: GoDuration,
    pub alert_name: String,
    /// static labels added to every alert (e.g. `severity: page`)
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub labels: BTreeMap<String, String>,
    pub trace_url_template: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub logs: LogsOptions,
    pub max_groups: usize,
    pub queue_size: usize,
    pub timeout: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            target: Target::Alertmanager,
            endpoint: String::new(),
            format: Format::Json,
            headers: BTreeMap::new(),
            tls: TlsClientConfig::default(),
            // Alertmanager's route and global defaults
            group_wait: GoDuration::secs(30),
            group_interval: GoDuration::secs(300),
            repeat_interval: GoDuration::secs(4 * 3600),
            resolve_timeout: GoDuration::secs(300),
            alert_name: "FailedOperation".into(),
            labels: BTreeMap::new(),
            trace_url_template: "http://localhost:16686/trace/{{trace_id}}".into(),
            logs: LogsOptions::default(),
            max_groups: 1000,
            queue_size: 1000,
            timeout: GoDuration::secs(5),
            retry_on_failure: RetryConfig {
                initial_interval: GoDuration(Duration::from_secs(1)),
                ..RetryConfig::default()
            },
        }
    }
}

impl AlertConfig {
    pub(super) fn url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        match self.target {
            Target::Alertmanager if !base.ends_with("/api/v2/alerts") => format!("{base}/api/v2/alerts"),
            _ => base.to_owned(),
        }
    }
}

impl Validate for AlertConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.trim().is_empty() {
            let example = match self.target {
                Target::Alertmanager => "\"http://alertmanager:9093\"",
                Target::Webhook => "\"https://hooks.example.com/...\"",
            };
            return Err(Invalid::at("endpoint", format!("is required, like {example}")));
        }
        reqwest::Url::parse(&self.url())
            .map_err(|e| Invalid::at("endpoint", format!("{:?} is not a URL: {e}", self.endpoint)))?;
        if self.target == Target::Alertmanager && self.format == Format::Slack {
            return Err(Invalid::at("format", "slack is a webhook format; use target: webhook"));
        }
        let intervals = [
            ("group_interval", &self.group_interval),
            ("repeat_interval", &self.repeat_interval),
            ("resolve_timeout", &self.resolve_timeout),
        ];
        if let Some((key, _)) = intervals.iter().find(|(_, d)| d.0.is_zero()) {
            return Err(Invalid::at(*key, "must be greater than 0"));
        }
        if self.max_groups == 0 || self.queue_size == 0 {
            let key = if self.max_groups == 0 { "max_groups" } else { "queue_size" };
            return Err(Invalid::at(key, "must be greater than 0"));
        }
        for reserved in ["alertname", "service", "operation", "error_type"] {
            if self.labels.contains_key(reserved) {
                return Err(Invalid::at(
                    format!("labels.{reserved}"),
                    "is set by the exporter; pick another label name",
                ));
            }
        }
        self.tls.validate()?;
        self.retry_on_failure.validate()
    }
}
