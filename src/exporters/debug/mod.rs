//! The `debug` exporter (and the removed `logging` exporter's name): writes
//! what passes to stderr. `basic` prints counts, `normal` one line per item,
//! `detailed` every field, in the layout otelcol's debug exporter uses.
//! With `use_internal_logger` (the default) output goes to the log stream
//! (stderr) sampled as otelcol's logger samples it: per second, the first
//! `sampling_initial` batches, then every `sampling_thereafter`-th; without
//! it every batch goes to each of `output_paths` (stdout, stderr or files;
//! stdout by default).

use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use futures::future::BoxFuture;
use serde::Deserialize;

use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, Validate,
};
use crate::otlp::PartialSuccess;
use crate::runtime::Output;
use crate::signal::{Batch, Signal};
use render::{render, summary};

mod render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    /// the old `logging` exporter's name for verbosity
    pub loglevel: Option<String>,
    pub sampling_initial: u64,
    pub sampling_thereafter: u64,
    pub use_internal_logger: bool,
    /// refused: otelcol's attribute filters for the output
    pub output: Option<serde_json::Value>,
    /// with `use_internal_logger: false`: stdout, stderr or files
    pub output_paths: Option<Vec<String>>,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            loglevel: None,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
            output: None,
            output_paths: None,
        }
    }
}

pub fn factory(type_name: &'static str, deprecated: Option<&'static str>) -> Factory<dyn ExporterConfig> {
    Factory { type_name, signals: &Signal::ALL, deprecated, parse: |v| Ok(Box::new(parse_section::<DebugConfig>(v)?)) }
}

impl Validate for DebugConfig {
    fn validate(&self) -> Result<(), Invalid> {
        match &self.output_paths {
            Some(_) if self.use_internal_logger => {
                return Err(Invalid::at(
                    "output_paths",
                    "applies only with use_internal_logger: false; set that, or leave the output in the \
                     collector's log (service.telemetry.logs.output_paths)",
                ))
            }
            Some(paths) if paths.is_empty() || paths.iter().any(String::is_empty) => {
                return Err(Invalid::at("output_paths", "needs stdout, stderr or file paths, none of them empty"))
            }
            _ => {}
        }
        if self.output.is_some() {
            return Err(Invalid::at(
                "output",
                "attribute filters for the debug output are not supported; remove output (all attributes are printed)",
            ));
        }
        if self.use_internal_logger && self.sampling_thereafter == 0 {
            return Err(Invalid::at(
                "sampling_thereafter",
                "must be at least 1 (1 logs every batch after the first ones)",
            ));
        }
        match self.loglevel.as_deref() {
            None | Some("debug" | "info" | "warn" | "error") => Ok(()),
            Some(other) => Err(Invalid::at(
                "loglevel",
                format!("unknown level {other:?}; use verbosity: basic, normal or detailed"),
            )),
        }
    }
}

impl ExporterConfig for DebugConfig {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let verbosity = match self.loglevel.as_deref() {
            Some("debug") => Verbosity::Detailed,
            _ => self.verbosity,
        };
        let name = ctx.id.to_string();
        let sampler = self.use_internal_logger.then(|| {
            std::sync::Mutex::new(Sampler {
                initial: self.sampling_initial,
                thereafter: self.sampling_thereafter,
                second: 0,
                seen: 0,
            })
        });
        let paths = self.output_paths.clone().unwrap_or_else(|| vec!["stdout".into()]);
        let outputs = Output::open_all(&paths).map_err(|e| anyhow::anyhow!("output_paths: {e}"))?;
        let export = DebugExport { name: name.clone(), verbosity, sampler, outputs };
        // Printing is local: no queue or retries needed.
        let settings = HelperSettings {
            timeout: Duration::from_secs(30),
            retry: RetryConfig { enabled: false, ..RetryConfig::default() },
            queue: QueueConfig { enabled: false, ..QueueConfig::default() },
        };
        Ok(helper::build(name.clone(), Box::new(export), settings, ctx.telemetry.exporter(signal, &name)))
    }
}

struct DebugExport {
    name: String,
    verbosity: Verbosity,
    /// `None`: every batch to `outputs` (`use_internal_logger: false`)
    sampler: Option<std::sync::Mutex<Sampler>>,
    outputs: Vec<Output>,
}

/// zap's sampler as otelcol configures it for this exporter: per second,
/// the first `initial` entries, then every `thereafter`-th.
struct Sampler {
    initial: u64,
    thereafter: u64,
    second: u64,
    seen: u64,
}

impl Sampler {
    fn admit(&mut self, second: u64) -> bool {
        if second != self.second {
            self.second = second;
            self.seen = 0;
        }
        self.seen += 1;
        self.seen <= self.initial || (self.seen - self.initial).is_multiple_of(self.thereafter.max(1))
    }
}

impl Export for DebugExport {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            if let Some(sampler) = &self.sampler {
                let second = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                if !sampler.lock().unwrap_or_else(|e| e.into_inner()).admit(second) {
                    return Ok(PartialSuccess::default());
                }
            }
            let text = if self.verbosity == Verbosity::Basic {
                summary(&self.name, &batch, None)
            } else {
                let decoded = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))?;
                let mut out = summary(&self.name, &batch, Some(&decoded));
                render(&mut out, &decoded, self.verbosity == Verbosity::Detailed);
                out
            };
            match self.sampler {
                Some(_) => {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
                None => {
                    for out in &self.outputs {
                        let _ = out.write_all(text.as_bytes());
                    }
                }
            }
            Ok(PartialSuccess::default())
        })
    }
}

#[cfg(test)]
mod tests;
