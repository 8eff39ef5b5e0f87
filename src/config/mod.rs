//! Loading an otelcol-style configuration: read every `--config` source,
//! merge them, expand the environment, then compile the whole document into a
//! validated [`Config`], reporting *every* problem with its key path and the
//! file, line and column it came from. Nothing is started from an invalid config.

mod compiled;
mod compiler;
mod connectors;
mod errors;
mod expand;
pub mod node;
mod pipelines;
mod references;
mod service;
mod telemetry;
pub mod types;
mod validate;

pub use compiled::{Config, Pipeline};
pub use errors::{ConfigError, ConfigErrors};
pub use expand::expand_str;
use node::Node;
pub use service::{PipelineId, TelemetryConfig};
pub use telemetry::{LogSampling, LogsTelemetry, MetricsTelemetry};

/// The configuration the collector runs when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

/// Where a config document comes from, as given to `--config`.
#[derive(Debug, Clone)]
pub enum Source {
    /// a file path (`path`, or `file:path`)
    File(String),
    /// `env:NAME`: the document is the variable's value
    Env(String),
    /// the embedded default
    Default,
}

impl Source {
    pub fn parse(arg: &str) -> Source {
        if let Some(p) = arg.strip_prefix("file:") {
            Source::File(p.to_owned())
        } else if let Some(n) = arg.strip_prefix("env:") {
            Source::Env(n.to_owned())
        } else {
            Source::File(arg.to_owned())
        }
    }

    fn read(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, String), ConfigError> {
        match self {
            Source::File(path) => std::fs::read_to_string(path).map(|t| (t, path.clone())).map_err(|e| {
                ConfigError::plain(format!("cannot read config file {path:?}: {e}; check the --config path"))
            }),
            Source::Env(name) => env(name)
                .map(|t| (t, format!("env:{name}")))
                .ok_or_else(|| ConfigError::plain(format!("config source env:{name} is not set"))),
            Source::Default => Ok((DEFAULT_CONFIG.to_owned(), "<default config>".to_owned())),
        }
    }
}

/// Reads, merges and expands the sources into one tree.
pub fn load_tree(
    sources: &[Source],
    env: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Node, ConfigErrors> {
    let mut root = Node::empty_map();
    for source in sources {
        let (text, name) = source.read(env).map_err(ConfigErrors::one)?;
        let doc = Node::parse(&text, &name).map_err(|m| ConfigErrors::one(ConfigError::plain(m)))?;
        if !doc.is_null() && doc.as_map().is_none() {
            return Err(ConfigErrors::one(ConfigError::plain(format!("{name}: the config must be a YAML mapping"))));
        }
        root.merge(doc);
    }
    let mut errors = Vec::new();
    expand::expand_tree(&mut root, env, warnings, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(
            errors.into_iter().map(|(pos, msg)| ConfigError { path: String::new(), pos, message: msg }).collect(),
        ));
    }
    Ok(root)
}

/// Loads and validates a configuration against the component registry.
pub fn load(
    sources: &[Source],
    registry: &crate::registry::Registry,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let mut warnings = Vec::new();
    let root = load_tree(sources, env, &mut warnings)?;
    validate::compile(&root, registry, warnings)
}

/// Loads a config from YAML text (tests and `validate` of inline configs).
pub fn load_str(text: &str, registry: &crate::registry::Registry) -> Result<Config, ConfigErrors> {
    let mut warnings = Vec::new();
    let mut root = Node::parse(text, "<inline>").map_err(|m| ConfigErrors::one(ConfigError::plain(m)))?;
    let mut errors = Vec::new();
    expand::expand_tree(&mut root, &|n| std::env::var(n).ok(), &mut warnings, &mut errors);
    if let Some((pos, message)) = errors.into_iter().next() {
        return Err(ConfigErrors::one(ConfigError { path: String::new(), pos, message }));
    }
    validate::compile(&root, registry, warnings)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "compat_tests.rs"]
mod compat_tests;
