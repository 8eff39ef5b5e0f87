//! What every exporter shares, after otelcol's exporterhelper: a bounded
//! `sending_queue` drained by `num_consumers` workers, `retry_on_failure`
//! with exponential backoff and jitter (honouring `Retry-After`), and a
//! per-attempt `timeout`. An exporter only implements [`Export`]. The queue
//! is in memory, or on disk when `sending_queue.storage` names a
//! `file_storage` extension (see [`super::queue`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::queue::batcher::{self, Piece};
use super::queue::file::{FileQueue, FileQueueSettings};
use super::queue::memory::MemoryQueue;
use super::queue::{PushError, SendingQueue, Sizer};
use crate::component::{BuildContext, BuildResult, BuiltExporter, ConsumeError, Consumer, Running};
use crate::otlp::PartialSuccess;
use crate::signal::{Batch, Signal};
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

/// What the attempts at one batch send, made once before the first.
pub enum Request {
    /// the batch: the exporter encodes it on every attempt
    Batch(Batch),
    /// what the exporter made of the batch in [`Export::prepare`] (a
    /// compressed body), sent as it is by [`Export::export_body`]
    Body(Bytes),
}

/// One destination: sends a batch once, without retrying.
pub trait Export: Send + Sync + 'static {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>>;

    /// Called once per batch before its first attempt. An exporter whose
    /// request body costs work and is much smaller than the batch (gzip)
    /// returns [`Request::Body`]: the batch is then dropped, and only the
    /// body is held while the destination is slow to answer or between
    /// retries, and resent as it is. The default keeps the batch.
    fn prepare(&self, batch: Batch) -> BoxFuture<'_, Result<Request, ExportError>> {
        Box::pin(std::future::ready(Ok(Request::Batch(batch))))
    }

    /// Sends a body made by [`Export::prepare`].
    fn export_body(&self, _body: Bytes) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(std::future::ready(Err(ExportError::Permanent("this exporter prepares no request bodies".into()))))
    }
}

#[path = "helper_config.rs"]
mod config;
pub use config::{QueueConfig, RetryConfig, BATCHER};

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

    /// One batch, with timeout and retries. Counts what was sent; a failure
    /// is counted by [`Sender::dropped`] (or kept by a persistent queue when
    /// shutdown interrupted the retries).
    async fn send(&self, batch: Batch) -> Result<(), Failure> {
        let items = batch.items() as u64;
        let started = Instant::now();
        let request = self.export.prepare(batch).await.map_err(|error| Failure { error, stopped: false })?;
        let mut attempt = 0;
        loop {
            let sending = match &request {
                Request::Batch(batch) => self.export.export(batch.clone()),
                Request::Body(body) => self.export.export_body(body.clone()),
            };
            let result = match tokio::time::timeout(self.settings.timeout, sending).await {
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
            let (retry_after, stopped) = match &err {
                ExportError::Permanent(_) => (None, false),
                ExportError::Retryable { retry_after, .. } if self.settings.retry.enabled => {
                    let wait = retry_after.unwrap_or_else(|| self.settings.retry.backoff(attempt));
                    let max = self.settings.retry.max_elapsed_time.0;
                    let out_of_time = !max.is_zero() && started.elapsed() + wait > max;
                    let stopped = self.deadline_passed(wait);
                    ((!out_of_time && !stopped).then_some(wait), stopped && !out_of_time)
                }
                ExportError::Retryable { .. } => (None, false),
            };
            match retry_after {
                Some(wait) => {
                    tracing::info!(exporter = %self.name, error = %err, ?wait, "export failed; will retry");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return Err(Failure { error: err, stopped }),
            }
        }
    }

    /// Sends a batch taken from the queue. False when it stays in a
    /// persistent queue for the next start (shutdown stopped the retries);
    /// true when delivered or given up for good (counted and logged).
    async fn deliver(&self, batch: Batch, persistent: bool) -> bool {
        let items = batch.items();
        match self.send(batch).await {
            Ok(()) => true,
            Err(f) if f.stopped && persistent => {
                tracing::info!(exporter = %self.name, items, "shutting down; the batch stays in the persistent queue for the next start");
                false
            }
            Err(f) => {
                self.dropped(items, &f.error);
                true
            }
        }
    }

    /// Counts and logs a batch given up for good.
    fn dropped(&self, items: usize, err: &ExportError) {
        self.metrics.send_failed.inc_by(items as u64);
        let kind = if matches!(err, ExportError::Permanent(_)) { "permanent" } else { "after retries" };
        tracing::error!(exporter = %self.name, error = %err, items, "export failed ({kind}); dropping data");
    }
}

/// Why [`Sender::send`] gave up on a batch.
struct Failure {
    error: ExportError,
    /// retries stopped because shutdown started, not because they ran out
    stopped: bool,
}

/// Wraps an [`Export`] with an in-memory queue, retries and timeout.
/// `sending_queue.storage` is not looked at: exporters that support it use
/// [`build_for`].
pub fn build(
    name: String,
    export: Box<dyn Export>,
    settings: HelperSettings,
    metrics: ExporterMetrics,
) -> BuiltExporter {
    let queue = settings.queue.clone();
    let memory = || Arc::new(MemoryQueue::new(queue.queue_size, sizer(&queue))) as Arc<dyn SendingQueue>;
    assemble(name, export, settings, metrics, queue.enabled.then(memory))
}

/// Wraps an [`Export`] with the queue, retries and timeout; the queue is
/// persistent when `sending_queue.storage` names a `file_storage`
/// extension (validation made sure it is configured and enabled).
pub fn build_for(
    ctx: &BuildContext,
    signal: Signal,
    export: Box<dyn Export>,
    settings: HelperSettings,
) -> BuildResult<BuiltExporter> {
    let name = ctx.id.to_string();
    let metrics = ctx.telemetry.exporter(signal, &name);
    let queue = settings.queue.clone();
    let Some(storage_id) = queue.storage.as_ref().filter(|_| queue.enabled) else {
        return Ok(build(name, export, settings, metrics));
    };
    let storage = ctx.host.storage(storage_id).map_err(|e| anyhow::anyhow!("sending_queue.storage: {e}"))?;
    let dir_name = format!("exporter_{}_{}_{signal}", ctx.id.type_name, ctx.id.name.as_deref().unwrap_or(""));
    let dir_name: String =
        dir_name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    let file_settings = FileQueueSettings {
        capacity: queue.queue_size,
        sizer: sizer(&queue),
        fsync: storage.fsync,
        lock_timeout: storage.timeout,
    };
    let file = FileQueue::open(
        &name,
        &storage.directory.join(dir_name),
        signal,
        &file_settings,
        metrics.corrupt_records.clone(),
    )?;
    Ok(assemble(name, export, settings, metrics, Some(Arc::new(file))))
}

fn sizer(queue: &QueueConfig) -> Sizer {
    Sizer::parse(&queue.sizer).unwrap_or(Sizer::Requests)
}

pub(crate) fn assemble(
    name: String,
    export: Box<dyn Export>,
    settings: HelperSettings,
    metrics: ExporterMetrics,
    queue: Option<Arc<dyn SendingQueue>>,
) -> BuiltExporter {
    let config = settings.queue.clone();
    let sender = Arc::new(Sender { name, export, settings, metrics, deadline: Mutex::new(None) });
    let Some(queue) = queue else {
        return BuiltExporter { consumer: Arc::new(Direct(sender.clone())), running: Box::new(DirectRunning(sender)) };
    };
    sender.metrics.queue_capacity.set(config.queue_size as i64);
    sender.metrics.queue_size.set(queue.size() as i64);
    let workers = match &config.batch {
        None => {
            (0..config.num_consumers).map(|_| tokio::spawn(unbatched_worker(queue.clone(), sender.clone()))).collect()
        }
        Some(batch) => {
            let (tx, rx) = tokio::sync::mpsc::channel(config.num_consumers);
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            let mut tasks: Vec<JoinHandle<()>> = (0..config.num_consumers)
                .map(|_| tokio::spawn(batched_worker(rx.clone(), queue.clone(), sender.clone())))
                .collect();
            tasks.push(tokio::spawn(batcher::run(queue.clone(), batch.clone(), tx)));
            tasks
        }
    };
    let block = config.block_on_overflow || config.blocking;
    BuiltExporter {
        consumer: Arc::new(Queued { queue: queue.clone(), block, sender: sender.clone() }),
        running: Box::new(QueueRunning { queue, sender, workers: Mutex::new(workers) }),
    }
}

/// Takes one request at a time from the queue and sends it.
async fn unbatched_worker(queue: Arc<dyn SendingQueue>, sender: Arc<Sender>) {
    while let Some(entry) = queue.pop().await {
        sender.metrics.queue_size.set(queue.size() as i64);
        if sender.deliver(entry.batch, queue.is_persistent()).await {
            queue.ack(entry.ticket);
        }
        sender.metrics.queue_size.set(queue.size() as i64);
    }
}

/// Sends the pieces the batcher merged; the queue's requests are
/// acknowledged by their group once all its pieces are done.
async fn batched_worker(
    pieces: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Piece>>>,
    queue: Arc<dyn SendingQueue>,
    sender: Arc<Sender>,
) {
    loop {
        let Some(piece) = pieces.lock().await.recv().await else { return };
        sender.metrics.queue_size.set(queue.size() as i64);
        let done = sender.deliver(piece.batch, queue.is_persistent()).await;
        piece.group.piece_done(queue.as_ref(), done);
        sender.metrics.queue_size.set(queue.size() as i64);
    }
}

struct Direct(Arc<Sender>);

impl Consumer for Direct {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let items = batch.items();
            self.0
                .send(batch)
                .await
                .map_err(|f| {
                    self.0.dropped(items, &f.error);
                    f.error
                })
                .map_err(|e| match e {
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
    queue: Arc<dyn SendingQueue>,
    block: bool,
    sender: Arc<Sender>,
}

impl Consumer for Queued {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let items = batch.items() as u64;
            let result = self.queue.push(batch, self.block).await;
            self.sender.metrics.queue_size.set(self.queue.size() as i64);
            result.map_err(|e| {
                self.sender.metrics.enqueue_failed.inc_by(items);
                let reason = format!("{}: {e}", self.sender.name);
                match e {
                    PushError::TooLarge { .. } => ConsumeError::Permanent(reason),
                    PushError::Full | PushError::Closed | PushError::Storage(_) => {
                        ConsumeError::Refused { reason, retry_after: Some(Duration::from_secs(1)) }
                    }
                }
            })
        })
    }
}

struct QueueRunning {
    queue: Arc<dyn SendingQueue>,
    sender: Arc<Sender>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Running for QueueRunning {
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // A persistent queue keeps what is not delivered for the next
            // start, so its workers stop retrying at once.
            let retry_until = if self.queue.is_persistent() { Instant::now() } else { deadline };
            *self.sender.deadline.lock().expect("lock") = Some(retry_until);
            // No new batches; workers drain the memory queue (a persistent
            // queue keeps what waits for the next start), then stop.
            self.queue.close();
            let workers = std::mem::take(&mut *self.workers.lock().expect("lock"));
            let all = futures::future::join_all(workers);
            let finished = tokio::time::timeout_at(deadline, all).await.is_ok();
            let left = self.queue.size();
            if self.queue.is_persistent() {
                if left > 0 {
                    tracing::info!(exporter = %self.sender.name, backlog = left, "the persistent queue keeps its backlog for the next start");
                }
            } else if !finished {
                let left = self.queue.waiting();
                tracing::error!(exporter = %self.sender.name, queued_batches = left, "shutdown deadline passed before the sending queue drained; queued data is dropped");
            }
        })
    }
}

#[cfg(test)]
#[path = "helper_tests.rs"]
mod tests;
