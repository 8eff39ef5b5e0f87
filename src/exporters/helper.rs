//! What every exporter shares, after otelcol's exporterhelper: a bounded
//! `sending_queue` drained by `num_consumers` workers, `retry_on_failure`
//! with exponential backoff and jitter (honouring `Retry-After`), and a
//! per-attempt `timeout`. An exporter only implements [`Export`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::component::{BuiltExporter, ConsumeError, Consumer, Invalid, Running};
use crate::config::types::GoDuration;
use crate::otlp::PartialSuccess;
use crate::signal::Batch;
use crate::telemetry::ExporterMetrics;

/// Why one export attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("{message}")]
    Retryable { message: String, retry_after: Option<Duration> },
    #[error("{0}")]
    Permanent(String),
}

impl ExportError {
    pub fn retryable(message: impl Into<String>) -> ExportError {
        ExportError::Retryable { message: message.into(), retry_after: None }
    }
}

/// One destination: sends a batch once, without retrying.
pub trait Export: Send + Sync + 'static {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>>;
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
    /// 0 retries forever
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::secs(5),
            max_interval: GoDuration::secs(30),
            multiplier: 1.5,
            randomization_factor: 0.5,
            max_elapsed_time: GoDuration::secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub enabled: bool,
    pub num_consumers: usize,
    /// in requests
    pub queue_size: usize,
    /// wait for room instead of refusing when the queue is full
    pub block_on_overflow: bool,
    /// older name of block_on_overflow
    pub blocking: bool,
    pub sizer: String,
    pub wait_for_result: bool,
    /// persistent storage extension id; not supported yet
    pub storage: Option<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            block_on_overflow: false,
            blocking: false,
            sizer: "requests".into(),
            wait_for_result: false,
            storage: None,
        }
    }
}

impl QueueConfig {
    pub fn validate(&self) -> Result<(), Invalid> {
        if !self.enabled {
            return Ok(());
        }
        if self.queue_size == 0 {
            return Err(Invalid::at("sending_queue.queue_size", "must be greater than 0"));
        }
        if self.num_consumers == 0 {
            return Err(Invalid::at("sending_queue.num_consumers", "must be greater than 0"));
        }
        if self.sizer != "requests" {
            return Err(Invalid::at("sending_queue.sizer", "only the \"requests\" sizer is supported"));
        }
        if self.storage.is_some() {
            return Err(Invalid::at(
                "sending_queue.storage",
                "persistent queues are not supported yet; remove storage to use the in-memory queue",
            ));
        }
        Ok(())
    }
}

impl RetryConfig {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.multiplier < 1.0 {
            return Err(Invalid::at("retry_on_failure.multiplier", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(Invalid::at("retry_on_failure.randomization_factor", "must be between 0 and 1"));
        }
        Ok(())
    }

    /// The wait before attempt `n + 1` (n starts at 0), with jitter.
    fn backoff(&self, n: u32) -> Duration {
        let base = self.initial_interval.0.as_secs_f64() * self.multiplier.powi(n as i32);
        let base = base.min(self.max_interval.0.as_secs_f64());
        let jitter = self.randomization_factor * base;
        let lo = (base - jitter).max(0.0);
        Duration::from_secs_f64(lo + fastrand::f64() * 2.0 * jitter)
    }
}

/// The settings every exporter's config carries.
#[derive(Debug, Clone)]
pub struct HelperSettings {
    pub timeout: Duration,
    pub retry: RetryConfig,
    pub queue: QueueConfig,
}

struct Sender {
    name: String,
    export: Box<dyn Export>,
    settings: HelperSettings,
    metrics: ExporterMetrics,
    /// set when shutdown starts: retries stop once it passes
    deadline: Mutex<Option<Instant>>,
}

impl Sender {
    fn deadline_passed(&self, after: Duration) -> bool {
        self.deadline.lock().expect("lock").is_some_and(|d| Instant::now() + after > d)
    }

    /// One batch, with timeout and retries. Counts what was sent or failed.
    async fn send(&self, batch: Batch) -> Result<(), ExportError> {
        let items = batch.items() as u64;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            let result = match tokio::time::timeout(self.settings.timeout, self.export.export(batch.clone())).await {
                Ok(r) => r,
                Err(_) => Err(ExportError::retryable(format!("timed out after {:?}", self.settings.timeout))),
            };
            let err = match result {
                Ok(partial) => {
                    let rejected = (partial.rejected.max(0) as u64).min(items);
                    if !partial.is_empty() {
                        tracing::warn!(exporter = %self.name, rejected, message = %partial.error_message, "the destination rejected part of the data");
                    }
                    self.metrics.sent.inc_by(items - rejected);
                    self.metrics.send_failed.inc_by(rejected);
                    return Ok(());
                }
                Err(e) => e,
            };
            let retry_after = match &err {
                ExportError::Permanent(_) => None,
                ExportError::Retryable { retry_after, .. } if self.settings.retry.enabled => {
                    let wait = retry_after.unwrap_or_else(|| self.settings.retry.backoff(attempt));
                    let max = self.settings.retry.max_elapsed_time.0;
                    let out_of_time = !max.is_zero() && started.elapsed() + wait > max;
                    (!out_of_time && !self.deadline_passed(wait)).then_some(wait)
                }
                ExportError::Retryable { .. } => None,
            };
            match retry_after {
                Some(wait) => {
                    tracing::info!(exporter = %self.name, error = %err, ?wait, "export failed; will retry");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    self.metrics.send_failed.inc_by(items);
                    let kind = if matches!(err, ExportError::Permanent(_)) { "permanent" } else { "after retries" };
                    tracing::error!(exporter = %self.name, error = %err, items, "export failed ({kind}); dropping data");
                    return Err(err);
                }
            }
        }
    }
}

/// Wraps an [`Export`] with the queue, retries and timeout.
pub fn build(
    name: String,
    export: Box<dyn Export>,
    settings: HelperSettings,
    metrics: ExporterMetrics,
) -> BuiltExporter {
    let queue = settings.queue.clone();
    let sender = Arc::new(Sender { name, export, settings, metrics, deadline: Mutex::new(None) });
    if !queue.enabled {
        return BuiltExporter { consumer: Arc::new(Direct(sender.clone())), running: Box::new(DirectRunning(sender)) };
    }
    let (tx, rx) = async_channel::bounded::<Batch>(queue.queue_size);
    sender.metrics.queue_capacity.set(queue.queue_size as i64);
    let workers = (0..queue.num_consumers)
        .map(|_| {
            let (rx, sender) = (rx.clone(), sender.clone());
            tokio::spawn(async move {
                while let Ok(batch) = rx.recv().await {
                    sender.metrics.queue_size.set(rx.len() as i64);
                    let _ = sender.send(batch).await;
                }
            })
        })
        .collect();
    let block = queue.block_on_overflow || queue.blocking;
    BuiltExporter {
        consumer: Arc::new(Queued { tx: tx.clone(), block, sender: sender.clone() }),
        running: Box::new(QueueRunning { tx, sender, workers: Mutex::new(workers) }),
    }
}

struct Direct(Arc<Sender>);

impl Consumer for Direct {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            self.0.send(batch).await.map_err(|e| match e {
                ExportError::Permanent(m) => ConsumeError::Permanent(m),
                ExportError::Retryable { message, retry_after } => {
                    ConsumeError::Refused { reason: message, retry_after }
                }
            })
        })
    }
}

struct DirectRunning(Arc<Sender>);

impl Running for DirectRunning {
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        *self.0.deadline.lock().expect("lock") = Some(deadline);
        Box::pin(async {})
    }
}

struct Queued {
    tx: async_channel::Sender<Batch>,
    block: bool,
    sender: Arc<Sender>,
}

impl Consumer for Queued {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let items = batch.items() as u64;
            let result = if self.block {
                self.tx.send(batch).await.map_err(|_| "the exporter is shutting down")
            } else {
                self.tx.try_send(batch).map_err(|e| match e {
                    async_channel::TrySendError::Full(_) => "the sending queue is full",
                    async_channel::TrySendError::Closed(_) => "the exporter is shutting down",
                })
            };
            match result {
                Ok(()) => {
                    self.sender.metrics.queue_size.set(self.tx.len() as i64);
                    Ok(())
                }
                Err(reason) => {
                    self.sender.metrics.enqueue_failed.inc_by(items);
                    Err(ConsumeError::Refused {
                        reason: format!("{}: {reason}", self.sender.name),
                        retry_after: Some(Duration::from_secs(1)),
                    })
                }
            }
        })
    }
}

struct QueueRunning {
    tx: async_channel::Sender<Batch>,
    sender: Arc<Sender>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Running for QueueRunning {
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            *self.sender.deadline.lock().expect("lock") = Some(deadline);
            // No new batches; workers drain what is queued, then stop.
            self.tx.close();
            let workers = std::mem::take(&mut *self.workers.lock().expect("lock"));
            let all = futures::future::join_all(workers);
            if tokio::time::timeout_at(deadline, all).await.is_err() {
                let left = self.tx.len();
                tracing::error!(exporter = %self.sender.name, queued_batches = left, "shutdown deadline passed before the sending queue drained; queued data is dropped");
            }
        })
    }
}

#[cfg(test)]
#[path = "helper_tests.rs"]
mod tests;
