//! What loading produces: the validated [`Config`] and its pipelines, the
//! input of the service.

use std::collections::BTreeMap;

use super::errors::{ConfigError, ConfigErrors};
use super::service::{PipelineId, TelemetryConfig};
use crate::component::{
    ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, NeededFile, ProcessorConfig, ReceiverConfig,
};
use crate::signal::Signal;

/// A validated configuration: only the components that pipelines or the
/// service use, each parsed into its typed config.
#[derive(Debug)]
pub struct Config {
    pub receivers: BTreeMap<ComponentId, Box<dyn ReceiverConfig>>,
    pub processors: BTreeMap<ComponentId, Box<dyn ProcessorConfig>>,
    pub exporters: BTreeMap<ComponentId, Box<dyn ExporterConfig>>,
    pub extensions: BTreeMap<ComponentId, Box<dyn ExtensionConfig>>,
    /// connectors used by pipelines; their ids appear in `Pipeline::exporters`
    /// and `Pipeline::receivers` (ids are unique across receivers, exporters
    /// and connectors, so a lookup here tells them apart)
    pub connectors: BTreeMap<ComponentId, Box<dyn ConnectorConfig>>,
    pub pipelines: Vec<Pipeline>,
    /// extensions enabled in `service.extensions`, in order
    pub service_extensions: Vec<ComponentId>,
    pub telemetry: TelemetryConfig,
    /// non-fatal findings (unused components, deprecated names, unset
    /// variables, missing deployment files)
    pub warnings: Vec<String>,
    /// the deployment's files the used components read at start, with full
    /// key paths; [`Config::check_files`] is the start-time check
    pub needed_files: Vec<NeededFile>,
}

impl Config {
    /// Every needed file that is missing or unreadable, as errors naming the
    /// key path: the run refuses to start on any, before binding anything.
    pub fn check_files(&self) -> Result<(), ConfigErrors> {
        let errors: Vec<ConfigError> = self
            .needed_files
            .iter()
            .filter_map(|n| {
                n.problem().map(|p| ConfigError {
                    path: n.path.clone(),
                    pos: None,
                    message: format!("{p}; create it or correct the path"),
                })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: PipelineId,
    pub receivers: Vec<ComponentId>,
    pub processors: Vec<ComponentId>,
    pub exporters: Vec<ComponentId>,
}

impl Pipeline {
    pub fn signal(&self) -> Signal {
        self.id.signal
    }
}
