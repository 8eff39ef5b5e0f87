//! The component model, after otelcol's: every receiver, processor, exporter
//! and extension has a factory that turns its YAML section into a typed,
//! validated config; the config builds the running component. Data moves
//! between components through [`Consumer`]s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::signal::{Batch, Signal};
use crate::telemetry::Telemetry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Receiver,
    Processor,
    Exporter,
    Connector,
    Extension,
}

impl Kind {
    /// The top-level config section of this kind.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Receiver => "receivers",
            Kind::Processor => "processors",
            Kind::Exporter => "exporters",
            Kind::Connector => "connectors",
            Kind::Extension => "extensions",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Kind::Receiver => "receiver",
            Kind::Processor => "processor",
            Kind::Exporter => "exporter",
            Kind::Connector => "connector",
            Kind::Extension => "extension",
        }
    }
}

/// A component id: `type` or `type/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub type_name: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (t, n) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let valid = |x: &str| !x.is_empty() && x.chars().all(|c| !c.is_whitespace() && c != '/');
        if !valid(t) || n.is_some_and(|n| !valid(n)) {
            return Err(format!("invalid component id {s:?}: use \"type\" or \"type/name\""));
        }
        Ok(ComponentId { type_name: t.to_owned(), name: n.map(str::to_owned) })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_name, n),
            None => f.write_str(&self.type_name),
        }
    }
}

/// Why a consumer did not take a batch; decides the status a receiver sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// try again later: gRPC UNAVAILABLE, HTTP 503 with Retry-After
    #[error("{reason}")]
    Refused { reason: String, retry_after: Option<Duration> },
    /// will never succeed: gRPC INTERNAL, HTTP 500
    #[error("{0}")]
    Permanent(String),
}

impl ConsumeError {
    pub fn refused(reason: impl Into<String>) -> ConsumeError {
        ConsumeError::Refused { reason: reason.into(), retry_after: None }
    }
}

/// Takes batches: a processor chain, a fan-out, or an exporter's queue.
/// Returning `Ok` means the batch is accepted and will not be lost silently.
pub trait Consumer: Send + Sync {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>>;
}

/// A started component that can be stopped; `shutdown` returns once it has
/// stopped taking work and drained what it holds (bounded by `deadline`).
pub trait Running: Send + Sync {
    fn shutdown(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, ()>;
}

/// Shared things every component is built with.
#[derive(Clone)]
pub struct BuildContext {
    pub id: ComponentId,
    pub telemetry: Arc<Telemetry>,
    /// authenticator extensions by id, for `auth.authenticator` settings
    pub authenticators: crate::extensions::auth::Authenticators,
    /// `file_storage` extensions by id, for `sending_queue.storage`
    pub storages: Arc<std::collections::BTreeMap<ComponentId, crate::extensions::file_storage::StorageSettings>>,
    /// the in-flight request byte budget receivers share (set by memory_limiter)
    pub admission: crate::receivers::admission::Admission,
}

impl BuildContext {
    /// A context without authenticators (tests, components built alone).
    pub fn new(id: ComponentId, telemetry: Arc<Telemetry>) -> BuildContext {
        BuildContext {
            id,
            telemetry,
            authenticators: Default::default(),
            storages: Default::default(),
            admission: Default::default(),
        }
    }
}

/// Per-signal consumers handed to a receiver; `None` where no pipeline of
/// that signal uses it.
#[derive(Clone, Default)]
pub struct SignalConsumers {
    pub traces: Option<Arc<dyn Consumer>>,
    pub metrics: Option<Arc<dyn Consumer>>,
    pub logs: Option<Arc<dyn Consumer>>,
}

impl SignalConsumers {
    pub fn get(&self, signal: Signal) -> Option<&Arc<dyn Consumer>> {
        match signal {
            Signal::Traces => self.traces.as_ref(),
            Signal::Metrics => self.metrics.as_ref(),
            Signal::Logs => self.logs.as_ref(),
        }
    }

    pub fn set(&mut self, signal: Signal, c: Arc<dyn Consumer>) {
        match signal {
            Signal::Traces => self.traces = Some(c),
            Signal::Metrics => self.metrics = Some(c),
            Signal::Logs => self.logs = Some(c),
        }
    }
}

pub type BuildResult<T> = Result<T, anyhow::Error>;

/// A semantic problem in a parsed component config: `path` is relative to
/// the component's section (empty for the section itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl Invalid {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid { path: path.into(), message: message.into() }
    }
}

/// Checks that go beyond types (ranges, combinations); runs during
/// validation, before anything is built.
pub trait Validate {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

pub trait ReceiverConfig: Validate + fmt::Debug + Send + Sync {
    /// Binds and starts serving; fails if a listener cannot be opened.
    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>>;
}

/// A processor built into a pipeline: the consumer in front of it, and its
/// running part (for processors that hold data, like `batch`).
pub struct BuiltProcessor {
    pub consumer: Arc<dyn Consumer>,
    pub running: Option<Box<dyn Running>>,
}

pub trait ProcessorConfig: Validate + fmt::Debug + Send + Sync {
    /// Request bytes receivers may hold at once, if this processor sets a
    /// limit (memory_limiter does).
    fn admission_budget(&self) -> Option<u64> {
        None
    }

    fn build(&self, ctx: BuildContext, signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor>;
}

pub struct BuiltExporter {
    pub consumer: Arc<dyn Consumer>,
    pub running: Box<dyn Running>,
}

pub trait ExporterConfig: Validate + fmt::Debug + Send + Sync {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter>;
}

pub trait ExtensionConfig: Validate + fmt::Debug + Send + Sync {
    fn start(&self, ctx: BuildContext, health: crate::service::Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>>;

    /// Authenticator extensions return what they check and send; the service
    /// collects them into `BuildContext::authenticators` before building.
    fn authenticator(&self) -> BuildResult<Option<crate::extensions::auth::Authenticator>> {
        Ok(None)
    }

    /// Storage extensions (`file_storage`) say where persistent queues live;
    /// the service collects them into `BuildContext::storages`.
    fn storage(&self) -> Option<crate::extensions::file_storage::StorageSettings> {
        None
    }
}

/// A parse error with the key path inside the component's section.
pub type ParseError = serde_path_to_error::Error<serde_json::Error>;

/// Deserializes a component section (`null` reads as `{}`, as in otelcol).
pub fn parse_section<T: DeserializeOwned>(value: Value) -> Result<T, ParseError> {
    let value = if value.is_null() { Value::Object(Default::default()) } else { value };
    serde_path_to_error::deserialize(value)
}

/// One component type: its name, the signals it handles and how to read its
/// config.
pub struct Factory<C: ?Sized> {
    pub type_name: &'static str,
    pub signals: &'static [Signal],
    /// a deprecation note shown when a config uses this name
    pub deprecated: Option<&'static str>,
    pub parse: fn(Value) -> Result<Box<C>, ParseError>,
}

impl<C: ?Sized> Factory<C> {
    pub fn supports(&self, signal: Signal) -> bool {
        self.signals.contains(&signal)
    }
}

/// A no-op [`Running`] for components with nothing to stop.
pub struct NothingRunning;

impl Running for NothingRunning {
    fn shutdown(&self, _deadline: tokio::time::Instant) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// A connector built for one (exporter-side signal, receiver-side signal)
/// pair: the consumer the exporting pipelines feed, and its running part
/// (stopped after those pipelines, before the pipelines it feeds).
pub struct BuiltConnector {
    pub consumer: Arc<dyn Consumer>,
    pub running: Box<dyn Running>,
}

/// Connectors join pipelines: an exporter in one pipeline, a receiver in
/// another, as in otelcol's `connectors:` section.
pub trait ConnectorConfig: Validate + fmt::Debug + Send + Sync {
    /// The `(exporter pipeline signal, receiver pipeline signal)` pairs this
    /// connector joins, like `traces -> metrics` for `spanmetrics`.
    fn pairs(&self) -> &'static [(Signal, Signal)];

    /// Builds the connector for one pair; `next` is the fan-out over the
    /// pipelines of signal `to` that list it as a receiver, already running.
    fn build(
        &self,
        ctx: BuildContext,
        from: Signal,
        to: Signal,
        next: Arc<dyn Consumer>,
    ) -> BuildResult<BuiltConnector>;
}
