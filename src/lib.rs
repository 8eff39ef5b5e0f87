//! otelstack: an OpenTelemetry collector that reads otelcol YAML
//! (`otelstack-collector`), and the tooling around a one-command
//! observability stack (`stackctl`). See docs/architecture.md for the map.
//!
//! What this library exports, on purpose:
//! - `cli`: the front ends of the two binaries (`src/bin/*.rs` only parse
//!   and call them) and `alloc`, the collector binary's counting allocator.
//! - The collector modules the benches (`benches/`) and fuzz targets
//!   (`fuzz/`) drive directly: `component`, `connectors`, `exporters`,
//!   `otlp`, `receivers`, `signal`. `config` and `service` are public too,
//!   until the collector's layering settles which of their items are used
//!   only inside the crate.
//! - Nothing else: the other collector modules, stackctl's stack content
//!   (`stack`), the failure store and `collector_api`, the one module
//!   through which stackctl (`cli::stackctl`, `stack`) reaches the collector
//!   side, are crate-private.
//!
//! Test helpers (`testkit`) are compiled only for tests.

pub mod alloc;
pub mod cli;
pub(crate) mod collector_api;
pub mod component;
pub mod config;
pub mod connectors;
pub mod exporters;
pub(crate) mod extensions;
pub(crate) mod failure_store;
pub mod otlp;
pub(crate) mod processors;
pub(crate) mod prometheus;
pub mod receivers;
pub(crate) mod registry;
pub mod runtime;
pub mod service;
pub mod signal;
pub(crate) mod stack;
pub(crate) mod telemetry;
#[cfg(test)]
pub mod testkit;
pub(crate) mod tls;
