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
mod settings;

pub use labels::{Labels, ResourceLabels};
pub use points::{translate, Family};
pub use settings::{ResourceToTelemetry, Settings};
