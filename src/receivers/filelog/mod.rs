//! The `filelog` receiver (otelcol-contrib's `receiver/filelogreceiver` on
//! `pkg/stanza`): tails files matched by globs, cuts them into entries
//! (lines or `multiline` patterns), runs the stanza operators and sends
//! the entries as OTLP logs. Files are known by their first bytes, so
//! rotation by rename or copy-truncate neither loses nor repeats lines, and
//! offsets live in a `storage` extension's directory across restarts.
//!
//! `config.rs` the keys, `finder.rs` the globs, `files.rs` fingerprints,
//! `split.rs` entries, `entry.rs`/`field.rs` the entry model,
//! `operators/` the operators, `tailer.rs` the poll loop's work,
//! `checkpoint.rs` the offsets on disk.

mod checkpoint;
pub mod config;
mod entry;
mod field;
mod files;
mod finder;
mod operators;
mod split;
mod tailer;

use futures::future::BoxFuture;

pub use config::FileLogConfig;

use crate::component::{
    parse_section, BuildContext, BuildResult, Factory, Invalid, ReceiverConfig, Running, SignalConsumers, Validate,
};
use crate::runtime::{Capability, ExtensionRef, TaskGroup};
use crate::signal::Signal;

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "filelog",
        signals: &[Signal::Logs],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<FileLogConfig>(v)?)),
    }
}

impl Validate for FileLogConfig {
    fn validate(&self) -> Result<(), Invalid> {
        self.check()?;
        operators::Pipeline::build(&self.operators)?;
        split::Splitter::new(self).map_err(|e| Invalid::at("multiline", e))?;
        Ok(())
    }
}

impl ReceiverConfig for FileLogConfig {
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.storage
            .iter()
            .map(|s| ExtensionRef { path: "storage".into(), id: s.clone(), needs: Capability::Storage })
            .collect()
    }

    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let Some(logs) = consumers.logs.clone() else {
                anyhow::bail!("the filelog receiver takes logs only: list it in a logs pipeline");
            };
            let id = ctx.id.to_string();
            let checkpoints = match &self.storage {
                Some(s) => Some(checkpoint::Checkpoints::new(&ctx.host.storage(s)?, &id)),
                None => None,
            };
            let metrics = ctx.telemetry.receiver(Signal::Logs, &id, "");
            let mut tailer = tailer::Tailer::new(id.clone(), self, checkpoints, logs, metrics)?;
            let group = TaskGroup::new(format!("receiver {id}"));
            let stop = group.shutdown_signal().token();
            let interval = self.poll_interval.0;
            group.spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    if tailer.poll(&stop).await.is_err() {
                        break;
                    }
                }
                // offsets of accepted records only: a batch still refused is read again next start
                tailer.save();
            });
            tracing::info!(receiver = %ctx.id, include = ?self.include, start_at = ?self.start_at, "filelog receiver started");
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}

#[cfg(test)]
mod tests;
