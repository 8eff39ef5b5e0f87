//! The component model, after otelcol's: every receiver, processor, exporter
//! and extension has a factory that turns its YAML section into a typed,
//! validated config; the config builds the running component. Data moves
//! between components through [`Consumer`]s.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::runtime::{Admission, Authenticator, Health, Host, StorageSettings};
pub use crate::runtime::{Capability, ExtensionRef};
pub use crate::runtime::{ComponentId, ConsumeError, Invalid, NeededFile, NothingRunning, Running};
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

/// Takes batches: a processor chain, a fan-out, or an exporter's queue.
/// Returning `Ok` means the batch is accepted and will not be lost silently.
pub trait Consumer: Send + Sync {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>>;
}

/// Shared things every component is built with.
#[derive(Clone)]
pub struct BuildContext {
    pub id: ComponentId,
    pub telemetry: Arc<Telemetry>,
    /// the enabled extensions, for `auth.authenticator` and `sending_queue.storage`
    pub host: Host,
    /// the in-flight request byte budget receivers share (set by memory_limiter)
    pub admission: Admission,
}

impl BuildContext {
    /// A context without extensions (tests, components built alone).
    pub fn new(id: ComponentId, telemetry: Arc<Telemetry>) -> BuildContext {
        BuildContext { id, telemetry, host: Host::default(), admission: Admission::default() }
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

/// Checks that go beyond types (ranges, combinations); runs during
/// validation, before anything is built.
pub trait Validate {
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }

    /// The deployment's files this config reads at start. Validation warns
    /// about missing ones; starting fails on them, naming the key path.
    fn needed_files(&self) -> Vec<NeededFile> {
        Vec::new()
    }
}

pub trait ReceiverConfig: Validate + fmt::Debug + Send + Sync {
    /// The extensions this config names (`auth.authenticator`), checked by
    /// validation and found through [`BuildContext::host`] at start.
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        Vec::new()
    }

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

    /// Checks that need the signal of a pipeline the processor is in (as
    /// otelcol's create step refuses `log_bodies` for traces); run by
    /// validation once per pipeline.
    fn validate_for(&self, signal: Signal) -> Result<(), Invalid> {
        let _ = signal;
        Ok(())
    }

    fn build(&self, ctx: BuildContext, signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor>;
}

pub struct BuiltExporter {
    pub consumer: Arc<dyn Consumer>,
    pub running: Box<dyn Running>,
}

pub trait ExporterConfig: Validate + fmt::Debug + Send + Sync {
    /// Whether the exporter sends through the shared sending queue, and so
    /// may keep it in a storage extension (`sending_queue.storage`).
    fn has_sending_queue(&self) -> bool {
        false
    }

    /// The extensions this config names (`auth.authenticator`,
    /// `sending_queue.storage`), checked by validation and found through
    /// [`BuildContext::host`] at build.
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        Vec::new()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter>;
}

pub trait ExtensionConfig: Validate + fmt::Debug + Send + Sync {
    fn start(&self, ctx: BuildContext, health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>>;

    /// What this extension offers other components; validation checks every
    /// reference against it, so it must agree with `authenticator` and `storage`.
    fn offers(&self) -> &'static [Capability] {
        &[]
    }

    /// Authenticator extensions return what they check and send; the service
    /// puts it in the [`Host`] before building anything else.
    fn authenticator(&self) -> BuildResult<Option<Authenticator>> {
        Ok(None)
    }

    /// Storage extensions say where components keep files; the service puts
    /// it in the [`Host`].
    fn storage(&self) -> Option<StorageSettings> {
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
