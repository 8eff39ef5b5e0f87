//! The one OTLP -> Prometheus translation, shared by the `prometheus` and
//! `prometheusremotewrite` exporters (otelcol-contrib's
//! `pkg/translator/prometheus` and `pkg/translator/prometheusremotewrite`):
//! metric names with units and `_total` (`names`), labels, `job`/`instance`
//! and `target_info` (`labels`), which Prometheus family an OTLP metric
//! becomes, sample values with staleness and exemplars (`points`), and
//! exponential histograms as native histograms or classic buckets
//! (`native`). It sits below the components: it knows OTLP's decoded types
//! and nothing of exporters, so each exporter keeps only its own output
//! (exposition text, remote-write protobuf) and its own state.

pub mod labels;
pub mod names;
pub mod native;
pub mod points;

pub use labels::{Labels, ResourceLabels};
pub use points::{translate, Family};

/// `resource_to_telemetry_conversion`: copy every resource attribute onto
/// each series (both exporters take this section).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
}

/// The settings both exporters share (`namespace`, `add_metric_suffixes`,
/// `resource_to_telemetry_conversion`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub namespace: String,
    pub add_suffixes: bool,
    pub resource_to_telemetry: bool,
}

impl Default for Settings {
    /// otelcol's defaults: no namespace, suffixes on, resource attributes not promoted.
    fn default() -> Self {
        Settings { namespace: String::new(), add_suffixes: true, resource_to_telemetry: false }
    }
}
