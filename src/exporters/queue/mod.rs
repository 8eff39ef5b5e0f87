//! The exporter's sending queue behind one small trait, so the helper's
//! workers drain an in-memory queue ([`memory`]) and a write-ahead queue on
//! disk ([`file`], `sending_queue.storage`) the same way: `push` when a batch
//! is accepted, `pop` by a worker, `ack` once it was delivered or dropped.

pub mod batcher;
pub mod file;
pub mod memory;
mod store;

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::future::BoxFuture;
use tokio::sync::Notify;

use crate::signal::Batch;

/// How `queue_size` is counted (otelcol's `sending_queue.sizer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizer {
    Requests,
    Items,
    Bytes,
}

impl Sizer {
    pub fn parse(s: &str) -> Option<Sizer> {
        match s {
            "requests" => Some(Sizer::Requests),
            "items" => Some(Sizer::Items),
            "bytes" => Some(Sizer::Bytes),
            _ => None,
        }
    }

    /// The size of one batch in this sizer's unit.
    pub fn size(self, items: usize, bytes: usize) -> usize {
        match self {
            Sizer::Requests => 1,
            Sizer::Items => items,
            Sizer::Bytes => bytes,
        }
    }
}

/// Identifies a popped batch for [`SendingQueue::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub(crate) id: u64,
    pub(crate) size: usize,
}

/// A batch taken from the queue by a worker.
pub struct Entry {
    pub batch: Batch,
    pub ticket: Ticket,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("the sending queue is full")]
    Full,
    #[error("the exporter is shutting down")]
    Closed,
    #[error("the batch (size {size}) is larger than the whole sending queue (queue_size {capacity}); raise sending_queue.queue_size or lower the batch processor's send_batch_max_size")]
    TooLarge { size: usize, capacity: usize },
    #[error("the persistent queue could not store the batch: {0}")]
    Storage(String),
}

/// A bounded queue of batches between the exporter's consumer and its
/// workers.
pub trait SendingQueue: Send + Sync + 'static {
    /// Accepts a batch: refuses with [`PushError::Full`] when there is no
    /// room, or waits for room when `block` is set.
    fn push(&self, batch: Batch, block: bool) -> BoxFuture<'_, Result<(), PushError>>;
    /// The next batch; `None` once the queue is closed and has nothing more
    /// to hand out.
    fn pop(&self) -> BoxFuture<'_, Option<Entry>>;
    /// The batch was delivered or permanently dropped: forget it.
    fn ack(&self, ticket: Ticket);
    /// Whether batches not acknowledged at shutdown survive for the next
    /// start (the worker then leaves them unacknowledged).
    fn is_persistent(&self) -> bool;
    /// The backlog in sizer units (persistent queues count popped batches
    /// until they are acknowledged).
    fn size(&self) -> usize;
    /// Batches waiting to be popped.
    fn waiting(&self) -> usize;
    /// No more pushes; workers are told to stop once `pop` returns `None`.
    fn close(&self);
}

/// The bounded waiting room both queues share: capacity accounting in sizer
/// units, waiting for room or for items, and closing.
pub(crate) struct Bounded<T> {
    inner: Mutex<Inner<T>>,
    capacity: usize,
    /// whether `take` keeps handing out items after `close`
    drain_on_close: bool,
    not_empty: Notify,
    not_full: Notify,
}

struct Inner<T> {
    items: VecDeque<(T, usize)>,
    used: usize,
    closed: bool,
}

impl<T> Bounded<T> {
    pub(crate) fn new(capacity: usize, drain_on_close: bool, backlog: Vec<(T, usize)>) -> Bounded<T> {
        let used = backlog.iter().map(|(_, s)| s).sum();
        Bounded {
            inner: Mutex::new(Inner { items: backlog.into(), used, closed: false }),
            capacity,
            drain_on_close,
            not_empty: Notify::new(),
            not_full: Notify::new(),
        }
    }

    /// Reserves room for `size`, waiting for it when `block` is set.
    pub(crate) async fn reserve(&self, size: usize, block: bool) -> Result<(), PushError> {
        if size > self.capacity {
            return Err(PushError::TooLarge { size, capacity: self.capacity });
        }
        loop {
            let notified = self.not_full.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut g = self.inner.lock().expect("lock");
                if g.closed {
                    return Err(PushError::Closed);
                }
                if g.used + size <= self.capacity {
                    g.used += size;
                    return Ok(());
                }
                if !block {
                    return Err(PushError::Full);
                }
            }
            notified.await;
        }
    }

    /// Gives back room taken by [`Bounded::reserve`].
    pub(crate) fn release(&self, size: usize) {
        let mut g = self.inner.lock().expect("lock");
        g.used = g.used.saturating_sub(size);
        drop(g);
        self.not_full.notify_waiters();
    }

    /// Adds an item whose room was reserved.
    pub(crate) fn put(&self, item: T, size: usize) {
        self.inner.lock().expect("lock").items.push_back((item, size));
        self.not_empty.notify_one();
    }

    /// The next item, waiting for one; `None` once closed (and drained, if
    /// this queue drains on close).
    pub(crate) async fn take(&self) -> Option<(T, usize)> {
        loop {
            let notified = self.not_empty.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut g = self.inner.lock().expect("lock");
                if g.closed && !self.drain_on_close {
                    return None;
                }
                if let Some(item) = g.items.pop_front() {
                    return Some(item);
                }
                if g.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    pub(crate) fn used(&self) -> usize {
        self.inner.lock().expect("lock").used
    }

    pub(crate) fn waiting(&self) -> usize {
        self.inner.lock().expect("lock").items.len()
    }

    pub(crate) fn close(&self) {
        self.inner.lock().expect("lock").closed = true;
        self.not_empty.notify_waiters();
        self.not_full.notify_waiters();
    }
}
