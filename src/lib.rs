//! otelstack: an OpenTelemetry collector that reads otelcol YAML
//! (`otelstack-collector`), and the tooling around a one-command
//! observability stack (`stackctl`). See docs/architecture.md for the map.

pub mod alloc;
pub mod cli;
pub mod component;
pub mod config;
pub mod connectors;
pub mod exporters;
pub mod extensions;
pub mod otlp;
pub mod processors;
pub mod prometheus;
pub mod receivers;
pub mod registry;
pub mod runtime;
pub mod service;
pub mod signal;
pub mod stack;
pub mod telemetry;
#[cfg(test)]
pub mod testkit;
pub mod tls;
