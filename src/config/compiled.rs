//! What loading produces: the validated [`Config`] and its pipelines, the
//! input of the service.

use std::collections::BTreeMap;

use super::service::{PipelineId, TelemetryConfig};
use crate::component::{
    ComponentId, ConnectorConfig, ExporterConfig, ExtensionConfig, ProcessorConfig, ReceiverConfig,
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
    /// non-fatal findings (unused components, deprecated names, unset variables)
    pub warnings: Vec<String>,
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
