//! Connectors: components that are an exporter in one pipeline and a
//! receiver in another (otelcol's `connectors:` section). The service builds
//! them between the pipelines they join; see `config/connectors.rs` for the
//! graph rules.

pub mod spanmetrics;
