//! `sending_queue.batch`, otelcol's exporter-side batching: on the consumer
//! side of the queue, as upstream's queuebatch does, one task takes requests
//! from the queue, merges them until `min_size` (or `flush_timeout` after the
//! first one), splits at `max_size` and hands the pieces to the export
//! workers. The queue keeps the unbatched requests: each is acknowledged only
//! once every piece of the merged batch it went into was delivered (or given
//! up for good), so a persistent queue resends it after a crash.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Entry, SendingQueue, Sizer, Ticket};
use crate::component::Invalid;
use crate::config::types::GoDuration;
use crate::signal::Batch;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueBatchConfig {
    /// send what was merged this long after the first request, whatever its size
    pub flush_timeout: GoDuration,
    /// in units of `sizer`: send as soon as this much was merged
    pub min_size: i64,
    /// in units of `sizer`: split larger batches; 0 = no limit
    pub max_size: i64,
    pub sizer: String,
}

impl Default for QueueBatchConfig {
    fn default() -> Self {
        QueueBatchConfig { flush_timeout: GoDuration::millis(200), min_size: 8192, max_size: 0, sizer: "items".into() }
    }
}

/// `batch:` written with no value enables batching with the defaults, as
/// otelcol's optional sections do.
pub fn deserialize_batch<'de, D: Deserializer<'de>>(d: D) -> Result<Option<QueueBatchConfig>, D::Error> {
    Ok(Some(Option::<QueueBatchConfig>::deserialize(d)?.unwrap_or_default()))
}

impl QueueBatchConfig {
    /// Checks as upstream's `BatchConfig.Validate`, plus the queue's rule
    /// that a queue counted in the same unit must be able to hold `min_size`.
    pub fn validate(&self, queue_sizer: &str, queue_size: usize) -> Result<(), Invalid> {
        let at = |key: &str, msg: String| Invalid::at(format!("sending_queue.batch.{key}"), msg);
        if !matches!(self.sizer.as_str(), "items" | "bytes") {
            return Err(at("sizer", format!("`batch` supports only `items` or `bytes` sizer, found {:?}", self.sizer)));
        }
        if self.flush_timeout.is_zero() {
            return Err(at("flush_timeout", "`flush_timeout` must be positive, found 0".into()));
        }
        if self.min_size < 0 {
            return Err(at("min_size", format!("`min_size` must be non-negative, found {}", self.min_size)));
        }
        if self.max_size < 0 {
            return Err(at("max_size", format!("`max_size` must be non-negative, found {}", self.max_size)));
        }
        if self.max_size > 0 && self.max_size < self.min_size {
            return Err(at(
                "max_size",
                format!("`max_size` ({}) must be greater or equal to `min_size` ({})", self.max_size, self.min_size),
            ));
        }
        if self.sizer == queue_sizer && self.min_size as u64 > queue_size as u64 {
            return Err(at(
                "min_size",
                format!(
                    "`min_size` ({}) must be less than or equal to `queue_size` ({queue_size}); the queue could never hold a full batch",
                    self.min_size
                ),
            ));
        }
        Ok(())
    }

    pub fn sizer(&self) -> Sizer {
        Sizer::parse(&self.sizer).unwrap_or(Sizer::Items)
    }
}

/// One piece of a merged batch, on its way to an export worker.
pub struct Piece {
    pub batch: Batch,
    pub group: Arc<Group>,
}

/// The requests merged into one flush: acknowledged in the queue together,
/// once all pieces are done. A piece kept back to be merged with later
/// requests belongs to the next flush too, which finishes it.
pub struct Group {
    tickets: Vec<Ticket>,
    /// groups whose kept-back piece went into this flush
    inherited: Vec<Arc<Group>>,
    pending: AtomicUsize,
    /// a piece was left undelivered for the next start (persistent queue)
    keep: AtomicBool,
}

impl Group {
    /// One piece is done; `delivered_or_dropped` is false when it was kept for
    /// the next start. The last piece acknowledges the group's requests
    /// unless one was kept.
    pub fn piece_done(&self, queue: &dyn SendingQueue, delivered_or_dropped: bool) {
        if !delivered_or_dropped {
            self.keep.store(true, Ordering::SeqCst);
        }
        if self.pending.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        let done = !self.keep.load(Ordering::SeqCst);
        if done {
            for t in &self.tickets {
                queue.ack(*t);
            }
        }
        for g in &self.inherited {
            g.piece_done(queue, done);
        }
    }
}

/// What the batcher holds between flushes.
struct Pending {
    entries: Vec<Entry>,
    /// the piece below `min_size` left over from splitting the last flush
    carried: Option<Piece>,
    /// in `sizer` units
    size: usize,
}

/// Takes requests from `queue` until it is closed and empty, merging them
/// into pieces sent on `out`. Ends (dropping `out`) after the last flush.
pub async fn run(queue: Arc<dyn SendingQueue>, cfg: QueueBatchConfig, out: mpsc::Sender<Piece>) {
    let batcher = Batcher { queue, sizer: cfg.sizer(), min: cfg.min_size as usize, max: cfg.max_size as usize, out };
    let mut pending = Pending { entries: Vec::new(), carried: None, size: 0 };
    let mut flush_at: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            entry = batcher.queue.pop() => {
                let Some(entry) = entry else { break };
                pending.size += batcher.sizer.size(entry.batch.items(), entry.batch.encoded_len());
                pending.entries.push(entry);
                if pending.size >= batcher.min {
                    batcher.flush(&mut pending, true).await;
                    // a kept-back remainder waits for a fresh timeout, as in the batch processor
                    flush_at = pending.carried.is_some().then(|| Instant::now() + cfg.flush_timeout.0);
                } else if flush_at.is_none() {
                    flush_at = Some(Instant::now() + cfg.flush_timeout.0);
                }
            }
            _ = sleep_until(flush_at) => {
                batcher.flush(&mut pending, false).await;
                flush_at = None;
            }
        }
    }
    batcher.flush(&mut pending, false).await;
}

struct Batcher {
    queue: Arc<dyn SendingQueue>,
    sizer: Sizer,
    min: usize,
    max: usize,
    out: mpsc::Sender<Piece>,
}

impl Batcher {
    /// Merges what is pending and sends it in pieces of at most `max`. When
    /// `min_size` triggered the flush, a last piece below `min_size` is kept
    /// back to be merged with the next requests.
    async fn flush(&self, pending: &mut Pending, by_size: bool) {
        let carried = pending.carried.take();
        pending.size = 0;
        if pending.entries.is_empty() && carried.is_none() {
            return;
        }
        let (mut batches, tickets): (Vec<Batch>, Vec<Ticket>) =
            pending.entries.drain(..).map(|e| (e.batch, e.ticket)).unzip();
        let mut inherited = Vec::new();
        if let Some(c) = carried {
            batches.insert(0, c.batch);
            inherited.push(c.group);
        }
        let signal = batches[0].signal();
        let mut pieces = match split(Batch::merge(signal, batches), self.sizer, self.max) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "dropping requests that cannot be decoded for splitting");
                let group = Group { tickets, inherited, pending: AtomicUsize::new(1), keep: AtomicBool::new(false) };
                group.piece_done(self.queue.as_ref(), true);
                return;
            }
        };
        let group = Arc::new(Group {
            tickets,
            inherited,
            pending: AtomicUsize::new(pieces.len()),
            keep: AtomicBool::new(false),
        });
        let size_of = |b: &Batch| self.sizer.size(b.items(), b.encoded_len());
        if by_size && pieces.len() > 1 && pieces.last().is_some_and(|p| size_of(p) < self.min) {
            let last = pieces.pop().expect("checked above");
            pending.size = size_of(&last);
            pending.carried = Some(Piece { batch: last, group: group.clone() });
        }
        for batch in pieces {
            if let Err(mpsc::error::SendError(piece)) = self.out.send(Piece { batch, group: group.clone() }).await {
                // no workers left: keep the requests for a persistent queue's next start
                piece.group.piece_done(self.queue.as_ref(), false);
            }
        }
    }
}

/// Splits `batch` into pieces of at most `max` in `sizer` units (0 = no
/// limit). Items are split exactly; bytes by estimating items per piece and
/// halving any piece still too large (a single item larger than `max` goes
/// alone).
pub fn split(batch: Batch, sizer: Sizer, max: usize) -> Result<Vec<Batch>, crate::signal::BatchError> {
    if max == 0 || batch.items() == 0 {
        return Ok(vec![batch]);
    }
    match sizer {
        Sizer::Requests => Ok(vec![batch]),
        Sizer::Items => batch.split(max),
        Sizer::Bytes => {
            let len = batch.encoded_len();
            if len <= max || batch.items() <= 1 {
                return Ok(vec![batch]);
            }
            let per_piece = (batch.items() * max / len).clamp(1, batch.items().div_ceil(2));
            let mut out = Vec::new();
            for piece in batch.split(per_piece)? {
                if piece.encoded_len() > max && piece.items() > 1 {
                    let half = piece.items().div_ceil(2);
                    for p in piece.split(half)? {
                        out.extend(split(p, sizer, max)?);
                    }
                } else {
                    out.push(piece);
                }
            }
            Ok(out)
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
#[path = "batcher_tests.rs"]
mod tests;
