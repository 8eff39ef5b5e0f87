//! `service.telemetry`: the collector's own logs and metrics, with otelcol's
//! keys and defaults (zap's settings for logs), and the check that refuses,
//! with its key path, what otelstack cannot do with them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::config::types::GoDuration;

/// `service.telemetry`: the collector's own logs and metrics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub logs: LogsTelemetry,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub metrics: MetricsTelemetry,
    /// the collector's own traces: only `level: none` / no processors
    pub traces: Value,
    /// refused when not empty (see `check`)
    pub resource: BTreeMap<String, Value>,
}

/// zap's settings as otelcol reads them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsTelemetry {
    pub level: String,
    /// `console` (default) or `json`
    pub encoding: String,
    /// refused when true (zap's development mode)
    pub development: bool,
    /// no file:line on each line
    pub disable_caller: bool,
    /// log lines never carry stack traces here, so both values are honoured
    /// as "none"; see the README's component table
    pub disable_stacktrace: bool,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub sampling: LogSampling,
    /// `stdout`, `stderr` or file paths; every line goes to each
    pub output_paths: Vec<String>,
    /// where the logger reports its own failures (a file it cannot write)
    pub error_output_paths: Vec<String>,
    /// fields added to every line
    pub initial_fields: BTreeMap<String, Value>,
    /// refused when set: logs are not exported over OTLP
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
            sampling: LogSampling::default(),
            output_paths: vec!["stderr".into()],
            error_output_paths: vec!["stderr".into()],
            initial_fields: BTreeMap::new(),
            processors: Value::Null,
        }
    }
}

/// zap's sampler: per `tick`, the first `initial` lines of one call site and
/// level are written, then every `thereafter`-th. otelcol turns it on by
/// default; here it is on only when the config says `enabled: true`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSampling {
    pub enabled: bool,
    pub tick: GoDuration,
    pub initial: u64,
    pub thereafter: u64,
}

impl Default for LogSampling {
    fn default() -> Self {
        LogSampling { enabled: false, tick: GoDuration::secs(10), initial: 10, thereafter: 100 }
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
    /// refused when set
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

fn set(v: &Value) -> bool {
    !(v.is_null() || v.as_array().is_some_and(Vec::is_empty) || v.as_object().is_some_and(|o| o.is_empty()))
}

impl TelemetryConfig {
    /// Every setting otelstack cannot honour, as `(key path under
    /// service.telemetry, sentence)`.
    pub fn check(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut refuse = |path: &str, why: &str| out.push((path.to_owned(), why.to_owned()));
        let logs = &self.logs;
        if !matches!(logs.level.to_ascii_lowercase().as_str(), "debug" | "info" | "warn" | "error") {
            refuse("logs.level", "must be debug, info, warn or error");
        }
        if !matches!(logs.encoding.as_str(), "console" | "json") {
            refuse("logs.encoding", "must be console or json");
        }
        if logs.development {
            refuse(
                "logs.development",
                "is not supported: zap's development mode (panics on DPanic, stack traces on warnings) has no \
                 counterpart in this collector; remove it and use level: debug for more detail",
            );
        }
        if logs.sampling.enabled && (logs.sampling.tick.is_zero() || logs.sampling.thereafter == 0) {
            refuse("logs.sampling", "needs a tick above 0 and thereafter of at least 1 when enabled");
        }
        if logs.output_paths.iter().chain(&logs.error_output_paths).any(String::is_empty) {
            refuse("logs.output_paths", "an output path must be stdout, stderr or a file path, not empty");
        }
        if set(&logs.processors) {
            refuse(
                "logs.processors",
                "is not supported: the collector does not export its own logs over OTLP; read its output \
                 (output_paths) with a log shipper instead",
            );
        }
        if !matches!(self.metrics.level.as_str(), "none" | "basic" | "normal" | "detailed") {
            refuse("metrics.level", "must be none, basic, normal or detailed");
        }
        if set(&self.metrics.views) {
            refuse("metrics.views", "is not supported: self metrics keep otelcol's names and buckets; remove views");
        }
        for (i, r) in self.metrics.readers.iter().enumerate() {
            let prometheus = r.pointer("/pull/exporter/prometheus").and_then(Value::as_object);
            for key in prometheus.into_iter().flat_map(|p| p.keys()).filter(|k| !matches!(k.as_str(), "host" | "port"))
            {
                refuse(
                    &format!("metrics.readers.{i}.pull.exporter.prometheus.{key}"),
                    "is not supported: the self metrics keep otelcol's names and labels; only host and port are read",
                );
            }
            if r.pointer("/pull/exporter/prometheus").is_none() {
                refuse(
                    &format!("metrics.readers.{i}"),
                    "is not supported: self metrics are only served for Prometheus to pull \
                     (pull.exporter.prometheus); scrape them with the prometheus receiver to push them on",
                );
            }
        }
        let traced = self.traces.get("processors").is_some_and(set)
            || self.traces.get("level").and_then(Value::as_str).is_some_and(|l| l != "none");
        if traced {
            refuse("traces", "is not supported: the collector does not trace itself; remove service.telemetry.traces");
        }
        if !self.resource.is_empty() {
            refuse(
                "resource",
                "is not supported: self metrics and logs carry no resource attributes here; remove it (add \
                 log fields with logs.initial_fields)",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value) -> Vec<(String, String)> {
        crate::component::parse_section::<TelemetryConfig>(v).unwrap().check()
    }

    #[test]
    fn otelcol_defaults_and_what_is_implemented_pass() {
        assert!(check(Value::Null).is_empty());
        let ok = serde_json::json!({
            "logs": {"level": "DEBUG", "encoding": "json", "disable_caller": true, "disable_stacktrace": true,
                     "output_paths": ["stdout", "/var/log/otel.log"], "error_output_paths": ["stderr"],
                     "initial_fields": {"env": "prod"}, "sampling": {"enabled": true, "tick": "5s", "initial": 2, "thereafter": 10}},
            "metrics": {"level": "detailed", "readers": [{"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": 8888}}}}]},
            "traces": {"level": "none"}
        });
        assert_eq!(check(ok), vec![]);
        let d = TelemetryConfig::default();
        assert_eq!(d.logs.output_paths, ["stderr"]);
        assert_eq!((d.logs.sampling.initial, d.logs.sampling.thereafter), (10, 100));
    }

    #[test]
    fn what_otelstack_cannot_do_is_refused_with_its_path() {
        let refused = |v: Value| check(v).into_iter().map(|(p, _)| p).collect::<Vec<_>>();
        assert_eq!(refused(serde_json::json!({"logs": {"development": true}})), ["logs.development"]);
        assert_eq!(refused(serde_json::json!({"logs": {"encoding": "text"}})), ["logs.encoding"]);
        assert_eq!(refused(serde_json::json!({"logs": {"level": "verbose"}})), ["logs.level"]);
        assert_eq!(
            refused(serde_json::json!({"logs": {"sampling": {"enabled": true, "thereafter": 0}}})),
            ["logs.sampling"]
        );
        let otlp = serde_json::json!([{"batch": {"exporter": {"otlp": {"endpoint": "x:4317"}}}}]);
        assert_eq!(refused(serde_json::json!({"logs": {"processors": otlp.clone()}})), ["logs.processors"]);
        assert_eq!(refused(serde_json::json!({"traces": {"processors": otlp}})), ["traces"]);
        let push = serde_json::json!([{"periodic": {"exporter": {"otlp": {"endpoint": "x:4317"}}}}]);
        assert_eq!(refused(serde_json::json!({"metrics": {"readers": push}})), ["metrics.readers.0"]);
        assert_eq!(refused(serde_json::json!({"metrics": {"views": [{"selector": {}}]}})), ["metrics.views"]);
        let pull =
            serde_json::json!([{"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "without_units": true}}}}]);
        assert_eq!(
            refused(serde_json::json!({"metrics": {"readers": pull}})),
            ["metrics.readers.0.pull.exporter.prometheus.without_units"]
        );
        assert_eq!(refused(serde_json::json!({"resource": {"service.name": "c"}})), ["resource"]);
        assert!(crate::component::parse_section::<TelemetryConfig>(
            serde_json::json!({"logs": {"sampling": {"tik": 1}}})
        )
        .is_err());
    }
}
