//! The in-memory sending queue: batches wait in a bounded deque; a batch
//! counts against `queue_size` until a worker takes it. What is queued is
//! lost if the process dies.

use futures::future::BoxFuture;

use super::{Bounded, Entry, PushError, SendingQueue, Sizer, Ticket};
use crate::signal::Batch;

pub struct MemoryQueue {
    room: Bounded<Batch>,
    sizer: Sizer,
}

impl MemoryQueue {
    pub fn new(capacity: usize, sizer: Sizer) -> MemoryQueue {
        MemoryQueue { room: Bounded::new(capacity, true, Vec::new()), sizer }
    }
}

impl SendingQueue for MemoryQueue {
    fn push(&self, batch: Batch, block: bool) -> BoxFuture<'_, Result<(), PushError>> {
        Box::pin(async move {
            let size = self.sizer.size(batch.items(), batch.encoded_len());
            self.room.reserve(size, block).await?;
            self.room.put(batch, size);
            Ok(())
        })
    }

    fn pop(&self) -> BoxFuture<'_, Option<Entry>> {
        Box::pin(async move {
            let (batch, size) = self.room.take().await?;
            self.room.release(size);
            Some(Entry { batch, ticket: Ticket { id: 0, size } })
        })
    }

    fn ack(&self, _ticket: Ticket) {}

    fn is_persistent(&self) -> bool {
        false
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testkit::{spans, traces_batch};

    fn batch(n: usize) -> Batch {
        traces_batch(vec![spans("svc", "s", n)])
    }

    #[tokio::test]
    async fn refuses_when_full_and_drains_after_close() {
        let q = MemoryQueue::new(2, Sizer::Requests);
        q.push(batch(1), false).await.unwrap();
        q.push(batch(2), false).await.unwrap();
        assert_eq!(q.push(batch(3), false).await, Err(PushError::Full));
        assert_eq!(q.size(), 2);
        q.close();
        assert_eq!(q.push(batch(1), true).await, Err(PushError::Closed));
        assert_eq!(q.pop().await.unwrap().batch.items(), 1);
        assert_eq!(q.pop().await.unwrap().batch.items(), 2);
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn item_sizer_counts_items_and_refuses_a_batch_larger_than_the_queue() {
        let q = MemoryQueue::new(10, Sizer::Items);
        q.push(batch(6), false).await.unwrap();
        assert_eq!(q.push(batch(5), false).await, Err(PushError::Full));
        assert_eq!(q.push(batch(11), true).await, Err(PushError::TooLarge { size: 11, capacity: 10 }));
        q.push(batch(4), false).await.unwrap();
        assert_eq!(q.size(), 10);
    }

    #[tokio::test]
    async fn a_blocked_push_proceeds_once_a_worker_takes_a_batch() {
        let q = std::sync::Arc::new(MemoryQueue::new(1, Sizer::Requests));
        q.push(batch(1), false).await.unwrap();
        let q2 = q.clone();
        let blocked = tokio::spawn(async move { q2.push(batch(2), true).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!blocked.is_finished());
        assert_eq!(q.pop().await.unwrap().batch.items(), 1);
        tokio::time::timeout(Duration::from_secs(2), blocked).await.unwrap().unwrap().unwrap();
        assert_eq!(q.pop().await.unwrap().batch.items(), 2);
    }
}
