//! The persistent sending queue (`sending_queue.storage: file_storage/...`):
//! a batch is written to the queue's directory (see [`super::store`] for the
//! format) before `push` returns, read back when a worker pops it, and
//! forgotten only when the worker acknowledges it. What was not acknowledged
//! when the process died is sent again after the restart.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;

use super::store::{ReadError, RecordRef, Store};
use super::{Bounded, Entry, PushError, SendingQueue, Sizer, Ticket};
use crate::signal::{Batch, Signal};

/// How to open one exporter's persistent queue.
#[derive(Debug, Clone)]
pub struct FileQueueSettings {
    pub capacity: usize,
    pub sizer: Sizer,
    pub fsync: bool,
    /// how long to wait for another process to release the directory
    pub lock_timeout: Duration,
}

pub struct FileQueue {
    name: String,
    signal: Signal,
    sizer: Sizer,
    store: Mutex<Store>,
    room: Bounded<RecordRef>,
    corrupt: Counter,
}

impl FileQueue {
    /// Opens the queue in `dir`, recovering what a previous run left there.
    /// Damaged records are skipped and added to `corrupt`.
    pub fn open(
        name: &str,
        dir: &Path,
        signal: Signal,
        settings: &FileQueueSettings,
        corrupt: Counter,
    ) -> anyhow::Result<FileQueue> {
        let recovered = Store::open(dir, signal, settings.fsync, settings.lock_timeout)
            .map_err(|e| anyhow::anyhow!("cannot open the persistent queue in {}: {e}", dir.display()))?;
        let size_of = |r: &RecordRef| settings.sizer.size(r.items as usize, r.len as usize);
        let backlog: Vec<(RecordRef, usize)> = recovered.backlog.iter().map(|r| (*r, size_of(r))).collect();
        let used: usize = backlog.iter().map(|(_, s)| s).sum();
        if recovered.corrupt > 0 {
            corrupt.inc_by(recovered.corrupt);
            tracing::error!(exporter = %name, dir = %dir.display(), records = recovered.corrupt, "skipped damaged records in the persistent queue; their data is lost");
        }
        if !backlog.is_empty() {
            tracing::info!(exporter = %name, dir = %dir.display(), batches = backlog.len(), "resuming the persistent queue");
        }
        if used > settings.capacity {
            tracing::warn!(exporter = %name, backlog = used, queue_size = settings.capacity, "the stored backlog is larger than queue_size; new data is refused until it drains");
        }
        Ok(FileQueue {
            name: name.to_owned(),
            signal,
            sizer: settings.sizer,
            store: Mutex::new(recovered.store),
            room: Bounded::new(settings.capacity, false, backlog),
            corrupt,
        })
    }

    fn forget(&self, seq: u64, size: usize) {
        if let Err(e) = self.store.lock().expect("lock").ack(seq) {
            tracing::error!(exporter = %self.name, error = %e, "cannot record progress in the persistent queue; the batch may be sent again after a restart");
        }
        self.room.release(size);
    }
}

impl SendingQueue for FileQueue {
    fn push(&self, batch: Batch, block: bool) -> BoxFuture<'_, Result<(), PushError>> {
        Box::pin(async move {
            let bytes = batch.encoded();
            let size = self.sizer.size(batch.items(), bytes.len());
            self.room.reserve(size, block).await?;
            let mut store = self.store.lock().expect("lock");
            match store.append(batch.items() as u32, &bytes) {
                Ok(r) => {
                    // under the store's lock, so the queue keeps the write order
                    self.room.put(r, size);
                    Ok(())
                }
                Err(e) => {
                    drop(store);
                    self.room.release(size);
                    Err(PushError::Storage(e.to_string()))
                }
            }
        })
    }

    fn pop(&self) -> BoxFuture<'_, Option<Entry>> {
        Box::pin(async move {
            loop {
                let (r, size) = self.room.take().await?;
                let read = self.store.lock().expect("lock").read(&r);
                let batch = match read {
                    Ok(bytes) => Batch::from_encoded(self.signal, Bytes::from(bytes))
                        .map_err(|e| ReadError::Corrupt(format!("invalid export request: {e}"))),
                    Err(e) => Err(e),
                };
                match batch {
                    Ok(batch) => return Some(Entry { batch, ticket: Ticket { id: r.seq, size } }),
                    Err(e) => {
                        self.corrupt.inc();
                        tracing::error!(exporter = %self.name, seq = r.seq, items = r.items, error = %e, "dropping a damaged record from the persistent queue");
                        self.forget(r.seq, size);
                    }
                }
            }
        })
    }

    fn ack(&self, ticket: Ticket) {
        self.forget(ticket.id, ticket.size);
    }

    fn is_persistent(&self) -> bool {
        true
    }

    fn size(&self) -> usize {
        self.room.used()
    }

    fn waiting(&self) -> usize {
        self.room.waiting()
    }

    fn close(&self) {
        self.room.close();
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
