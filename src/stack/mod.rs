//! The Compose stack's content: every file of a stack project (compose file,
//! `.env`, collector and backend configs, Grafana provisioning and dashboards,
//! README, marker) rendered from templates embedded in the binary.
//!
//! One source of truth: `stackctl init` writes [`render`]'s output for a new
//! project, and the repository's checked-in `compose/`, `provisioning/` and
//! `dashboards/` are the same function's output for [`Layout::Clone`] with
//! [`Secrets::dev`] (a test fails if they drift; `make stack-files` rewrites
//! them). Templates use tera (Jinja-like, the templating crate most Rust CLIs
//! use for this job; built without default features, so no chrono/rand).

pub mod dotenv;
mod marker;
mod options;
mod render;
mod rendered_file;
mod secrets;
#[cfg(test)]
mod tests;
pub mod versions;
mod workshop;

pub use marker::sha256;
pub use marker::{Marker, MARKER_FILE};
pub use options::{port_spec, Layout, Service, StackOptions, PORTS};
pub use render::render;
pub use rendered_file::RenderedFile;
pub use secrets::Secrets;
