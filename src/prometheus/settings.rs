//! The settings the `prometheus` and `prometheusremotewrite` exporters share
//! and the translation reads.

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
