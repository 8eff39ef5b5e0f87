//! The `batch` processor: collects requests until `send_batch_size` items or
//! `timeout`, merges them (by concatenating encoded bytes) and sends them on,
//! split to `send_batch_max_size` when set. Once it has taken a batch it keeps
//! trying to hand it downstream, so accepted data is not dropped when an
//! exporter queue is momentarily full.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltProcessor, ConsumeError, Consumer, Factory, Invalid,
    ProcessorConfig, Validate,
};
use crate::config::types::GoDuration;
use crate::runtime::{Shutdown, TaskGroup};
use crate::signal::{Batch, Signal};
use crate::telemetry::BatchMetrics;

/// How many requests may wait in front of the batcher.
const QUEUE_CAPACITY: usize = 256;
/// How long a receiver waits for room before refusing with a retryable error.
const ADMISSION_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    pub send_batch_size: usize,
    pub timeout: GoDuration,
    pub send_batch_max_size: usize,
    /// accepted for compatibility; batching by request metadata is not supported
    pub metadata_keys: Vec<String>,
    pub metadata_cardinality_limit: u32,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            send_batch_size: 8192,
            timeout: GoDuration::millis(200),
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

pub fn factory() -> Factory<dyn ProcessorConfig> {
    Factory {
        type_name: "batch",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<BatchConfig>(v)?)),
    }
}

impl Validate for BatchConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.send_batch_max_size > 0 && self.send_batch_max_size < self.send_batch_size {
            return Err(Invalid::at("send_batch_max_size", "must be 0 or at least send_batch_size"));
        }
        if !self.metadata_keys.is_empty() {
            return Err(Invalid::at(
                "metadata_keys",
                "batching by request metadata is not supported; remove metadata_keys",
            ));
        }
        Ok(())
    }
}

impl ProcessorConfig for BatchConfig {
    fn build(&self, ctx: BuildContext, signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor> {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let batcher = Batcher {
            cfg: self.clone(),
            signal,
            next,
            metrics: ctx.telemetry.batch(&ctx.id.to_string()),
            pending: Vec::new(),
            pending_items: 0,
            id: ctx.id.to_string(),
        };
        let group = TaskGroup::new(format!("processor {}", ctx.id));
        group.spawn(batcher.run(rx, group.shutdown_signal()));
        Ok(BuiltProcessor { consumer: Arc::new(BatchInput { tx }), running: Some(Box::new(group)) })
    }
}

struct BatchInput {
    tx: mpsc::Sender<Batch>,
}

impl Consumer for BatchInput {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            match tokio::time::timeout(ADMISSION_WAIT, self.tx.send(batch)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(ConsumeError::refused("the pipeline is shutting down")),
                Err(_) => Err(ConsumeError::Refused {
                    reason: "the batch processor queue is full".into(),
                    retry_after: Some(Duration::from_secs(1)),
                }),
            }
        })
    }
}

struct Batcher {
    cfg: BatchConfig,
    signal: Signal,
    next: Arc<dyn Consumer>,
    metrics: BatchMetrics,
    pending: Vec<Batch>,
    pending_items: usize,
    id: String,
}

#[derive(Clone, Copy)]
enum Trigger {
    Size,
    Timeout,
    Shutdown,
}

impl Batcher {
    async fn run(mut self, mut rx: mpsc::Receiver<Batch>, shutdown: Shutdown) {
        let timeout = self.cfg.timeout.0;
        let mut flush_at: Option<Instant> = None;
        let stop = shutdown.requested();
        tokio::pin!(stop);
        let deadline = loop {
            tokio::select! {
                biased;
                d = &mut stop => break d,
                msg = rx.recv() => {
                    let Some(batch) = msg else { break Instant::now() + Duration::from_secs(5) };
                    if self.pending.is_empty() {
                        flush_at = Some(Instant::now() + timeout);
                    }
                    self.pending_items += batch.items();
                    self.pending.push(batch);
                    if self.pending_items >= self.cfg.send_batch_size || timeout.is_zero() {
                        self.send(Trigger::Size, None).await;
                        // a remainder below send_batch_size waits for a fresh timeout
                        flush_at = (!self.pending.is_empty()).then(|| Instant::now() + timeout);
                    }
                }
                _ = sleep_until(flush_at) => {
                    self.send(Trigger::Timeout, None).await;
                    flush_at = None;
                }
            }
        };
        // Stop taking new work, then flush everything already accepted.
        rx.close();
        while let Some(batch) = rx.recv().await {
            self.pending_items += batch.items();
            self.pending.push(batch);
        }
        self.send(Trigger::Shutdown, Some(deadline)).await;
    }

    async fn send(&mut self, trigger: Trigger, deadline: Option<Instant>) {
        if self.pending.is_empty() {
            return;
        }
        let parts = std::mem::take(&mut self.pending);
        self.pending_items = 0;
        let merged = Batch::merge(self.signal, parts);
        let chunks = match merged.split(self.cfg.send_batch_max_size) {
            Ok(chunks) => chunks,
            Err(e) => {
                tracing::error!(processor = %self.id, error = %e, "dropping a batch that cannot be decoded for splitting");
                return;
            }
        };
        let mut chunks = chunks;
        if matches!(trigger, Trigger::Size) && chunks.len() > 1 {
            if let Some(last) = chunks.pop_if(|c| c.items() < self.cfg.send_batch_size) {
                self.pending_items = last.items();
                self.pending.push(last);
            }
        }
        for chunk in chunks {
            if chunk.is_empty() {
                continue;
            }
            self.metrics.send_size.observe(chunk.items() as f64);
            match trigger {
                Trigger::Size => self.metrics.size_trigger.inc(),
                Trigger::Timeout => self.metrics.timeout_trigger.inc(),
                Trigger::Shutdown => 0,
            };
            self.deliver(chunk, deadline).await;
        }
    }

    /// Hands one batch downstream, retrying while it is refused (a full
    /// exporter queue) until it is taken or the shutdown deadline passes.
    async fn deliver(&self, mut batch: Batch, deadline: Option<Instant>) {
        // encoded once, so each retry and each fan-out branch shares the buffer
        batch.make_encoded();
        let mut wait = Duration::from_millis(10);
        loop {
            match self.next.consume(batch.clone()).await {
                Ok(()) => return,
                Err(ConsumeError::Permanent(reason)) => {
                    tracing::error!(processor = %self.id, items = batch.items(), %reason, "downstream rejected a batch permanently; dropping it");
                    return;
                }
                Err(ConsumeError::Refused { reason, .. }) => {
                    if deadline.is_some_and(|d| Instant::now() + wait > d) {
                        tracing::error!(processor = %self.id, items = batch.items(), %reason, "shutdown deadline reached; dropping a batch that downstream refused");
                        return;
                    }
                    tracing::debug!(processor = %self.id, %reason, "downstream refused a batch; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
