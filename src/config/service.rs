//! The `service` section: pipelines, enabled extensions and the collector's
//! own telemetry settings.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

pub use super::telemetry::TelemetryConfig;
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
