//! The `service` section: pipelines, enabled extensions and the collector's
//! own telemetry settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::signal::Signal;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ServiceSection {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub extensions: Vec<String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub pipelines: BTreeMap<String, PipelineSection>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PipelineSection {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub receivers: Vec<String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub processors: Vec<String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub exporters: Vec<String>,
}

/// A pipeline id: `traces`, `metrics`, `logs`, optionally `/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipelineId {
    pub signal: Signal,
    pub name: Option<String>,
}

impl PipelineId {
    pub fn parse(s: &str) -> Result<PipelineId, String> {
        let (sig, name) = match s.split_once('/') {
            Some((a, b)) if !b.is_empty() => (a, Some(b.to_owned())),
            Some(_) => return Err(format!("invalid pipeline id {s:?}: the name after '/' is empty")),
            None => (s, None),
        };
        let signal = Signal::parse(sig).ok_or_else(|| {
            format!("unknown pipeline type {sig:?}: use traces, metrics or logs (optionally with /name)")
        })?;
        Ok(PipelineId { signal, name })
    }
}

impl fmt::Display for PipelineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.signal, n),
            None => write!(f, "{}", self.signal),
        }
    }
}

/// `service.telemetry`: the collector's own logs and metrics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub logs: LogsTelemetry,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub metrics: MetricsTelemetry,
    /// accepted for compatibility; the collector does not trace itself
    pub traces: Value,
    pub resource: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsTelemetry {
    pub level: String,
    /// `console` (default) or `json`
    pub encoding: String,
    // accepted for compatibility with otelcol's zap settings
    pub development: bool,
    pub disable_caller: bool,
    pub disable_stacktrace: bool,
    pub sampling: Value,
    pub output_paths: Vec<String>,
    pub error_output_paths: Vec<String>,
    pub initial_fields: BTreeMap<String, Value>,
    pub processors: Value,
}

impl Default for LogsTelemetry {
    fn default() -> Self {
        LogsTelemetry {
            level: "info".into(),
            encoding: "console".into(),
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            sampling: Value::Null,
            output_paths: Vec::new(),
            error_output_paths: Vec::new(),
            initial_fields: BTreeMap::new(),
            processors: Value::Null,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsTelemetry {
    /// `none` turns self metrics off; `basic`, `normal`, `detailed` keep them on
    pub level: String,
    /// the older way to set the listen address (`host:port`)
    pub address: Option<String>,
    /// otelcol's `readers: [{pull: {exporter: {prometheus: {host, port}}}}]`
    pub readers: Vec<Value>,
    pub views: Value,
}

impl Default for MetricsTelemetry {
    fn default() -> Self {
        MetricsTelemetry { level: "normal".into(), address: None, readers: Vec::new(), views: Value::Null }
    }
}

impl MetricsTelemetry {
    /// Where the Prometheus endpoint listens, or `None` when turned off.
    pub fn listen_address(&self) -> Option<String> {
        if self.level == "none" {
            return None;
        }
        if let Some(a) = &self.address {
            return Some(a.clone());
        }
        for reader in &self.readers {
            if let Some(p) = reader.pointer("/pull/exporter/prometheus") {
                let host = p.get("host").and_then(Value::as_str).unwrap_or("localhost");
                let port = p.get("port").and_then(Value::as_u64).unwrap_or(8888);
                return Some(format!("{host}:{port}"));
            }
        }
        if self.readers.is_empty() {
            Some("localhost:8888".into())
        } else {
            None
        }
    }
}
