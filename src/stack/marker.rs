//! The marker file (`stackctl.toml`) that makes a directory a stackctl
//! project: the options `init` used and the sha256 of every file it wrote,
//! so a later `init` can tell an untouched file (safe to rewrite) from one
//! the user edited (kept unless `--force`). Other subcommands read it to
//! recognise a project. TOML (the `toml` crate, serde) because it is what Rust
//! tool users already edit (Cargo.toml) and it round-trips the options exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::options::{Layout, Service, StackOptions};
use super::rendered_file::RenderedFile;

pub const MARKER_FILE: &str = "stackctl.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    pub stack: StackSection,
    /// Host ports by `.env` key, as rendered.
    pub ports: BTreeMap<String, u16>,
    /// Image overrides given to `init` (the rest are the pinned versions).
    #[serde(default)]
    pub images: BTreeMap<String, String>,
    /// `sha256:<hex>` of each file `init` wrote, keyed by its path relative
    /// to the directory `init` wrote into (see `root`).
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackSection {
    pub otelstack_version: String,
    pub project_name: String,
    pub layout: Layout,
    /// The directory `init` wrote into, relative to this file ("." or "..").
    pub root: String,
    pub services: Vec<Service>,
    pub grafana_anonymous: bool,
}

pub fn sha256(contents: &str) -> String {
    format!("sha256:{}", const_hex::encode(Sha256::digest(contents.as_bytes())))
}

impl Marker {
    pub fn new(opts: &StackOptions, files: &[RenderedFile]) -> Marker {
        Marker {
            stack: StackSection {
                otelstack_version: env!("CARGO_PKG_VERSION").into(),
                project_name: opts.project_name.clone(),
                layout: opts.layout,
                root: match opts.layout {
                    Layout::Project => ".".into(),
                    Layout::Clone => "..".into(),
                },
                services: opts.services.iter().copied().collect(),
                grafana_anonymous: opts.grafana_anonymous,
            },
            ports: opts.published_ports().into_iter().map(|(p, v)| (p.env.to_owned(), v)).collect(),
            images: opts.images.iter().map(|(s, i)| (s.name().to_owned(), i.clone())).collect(),
            files: files.iter().map(|f| (f.path.to_string_lossy().into_owned(), sha256(&f.contents))).collect(),
        }
    }

    /// Where the marker lives, relative to the directory `init` writes into.
    pub fn path(layout: Layout) -> PathBuf {
        match layout {
            Layout::Project => PathBuf::from(MARKER_FILE),
            Layout::Clone => Path::new("compose").join(MARKER_FILE),
        }
    }

    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("the marker always serializes");
        format!(
            "# This directory is an otelstack stack: `stackctl init` wrote it and\n\
             # `stackctl up`/`down`/`status` run it. The [files] hashes let a later\n\
             # `stackctl init` keep files you edited (it rewrites them only with --force).\n\n{body}"
        )
    }
}
