//! One rendered file of a stack project, what [`super::render`] produces and
//! the marker hashes.

use std::path::PathBuf;

/// One file of a stack project, relative to the directory `init` writes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub contents: String,
    /// Unix permission bits (`.env` holds secrets: 0o600; the rest 0o644).
    pub mode: u32,
}
