use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::testkit::{spans, traces_batch};

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("otelstack-queue-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn settings(capacity: usize, sizer: Sizer) -> FileQueueSettings {
    FileQueueSettings { capacity, sizer, fsync: false, lock_timeout: Duration::from_millis(100) }
}

fn open_with(dir: &Path, s: &FileQueueSettings) -> (FileQueue, Counter) {
    let corrupt = Counter::default();
    (FileQueue::open("otlp", dir, Signal::Traces, s, corrupt.clone()).unwrap(), corrupt)
}

fn open(dir: &Path) -> (FileQueue, Counter) {
    open_with(dir, &settings(100, Sizer::Requests))
}

/// A batch identified by its span count.
fn batch(n: usize) -> Batch {
    traces_batch(vec![spans("svc", &format!("b{n}"), n)])
}

async fn push_all(q: &FileQueue, ns: &[usize]) {
    for &n in ns {
        q.push(batch(n), false).await.unwrap();
    }
}

/// Pops everything that is waiting, returning the batches' span counts.
async fn drain(q: &FileQueue, ack: bool) -> Vec<usize> {
    let mut out = Vec::new();
    while q.waiting() > 0 {
        let e = tokio::time::timeout(Duration::from_secs(2), q.pop()).await.unwrap().unwrap();
        out.push(e.batch.items());
        if ack {
            q.ack(e.ticket);
        }
    }
    out
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn what_was_queued_survives_a_restart_in_order() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2, 3]).await;
    assert_eq!(q.size(), 3);
    drop(q); // a crash: nothing was acknowledged
    let (q, corrupt) = open(&tmp.0);
    assert_eq!(q.size(), 3, "the backlog counts after a restart");
    assert_eq!(drain(&q, true).await, vec![1, 2, 3]);
    assert_eq!(corrupt.get(), 0);
}

#[tokio::test]
async fn acknowledged_batches_are_not_sent_again_and_in_flight_ones_are() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2, 3, 4]).await;
    let first = q.pop().await.unwrap();
    let second = q.pop().await.unwrap();
    let third = q.pop().await.unwrap();
    // acknowledged out of order: 3 then 1; 2 is still in flight at the crash
    q.ack(third.ticket);
    q.ack(first.ticket);
    assert_eq!(q.size(), 2);
    drop((q, second));
    let (q, _) = open(&tmp.0);
    // 3 is above the persisted floor (2 was not done): sent again, a duplicate, never a loss
    assert_eq!(drain(&q, true).await, vec![2, 3, 4]);
    drop(q);
    let (q, _) = open(&tmp.0);
    assert_eq!(q.size(), 0, "everything was acknowledged");
}

#[tokio::test]
async fn fully_acknowledged_segments_are_deleted() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2]).await;
    drop(q);
    let (q, _) = open(&tmp.0);
    push_all(&q, &[3]).await;
    assert_eq!(segments(&tmp.0).len(), 2, "a restart starts a new segment");
    assert_eq!(drain(&q, true).await, vec![1, 2, 3]);
    assert_eq!(segments(&tmp.0).len(), 1, "only the active segment is left");
    drop(q);
    let (q, _) = open(&tmp.0);
    assert_eq!(q.size(), 0);
    assert_eq!(segments(&tmp.0).len(), 1, "empty segments are removed at start");
}

#[tokio::test]
async fn a_torn_tail_is_skipped_and_counted() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2]).await;
    drop(q);
    let seg = segments(&tmp.0).pop().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 7).unwrap(); // the second record lost its end
    drop(f);
    let (q, corrupt) = open(&tmp.0);
    assert_eq!(corrupt.get(), 1);
    push_all(&q, &[3]).await;
    assert_eq!(drain(&q, true).await, vec![1, 3]);
}

#[tokio::test]
async fn a_corrupt_record_in_the_middle_is_skipped_and_the_rest_delivered() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2, 3]).await;
    drop(q);
    let seg = segments(&tmp.0).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let second = bytes.windows(4).enumerate().filter(|(_, w)| w == b"OSQ1").nth(1).unwrap().0;
    bytes[second + 30] ^= 0xff; // a flipped byte in the second record's payload
    bytes[second + 4] ^= 0x10; // and in its length
    std::fs::write(&seg, &bytes).unwrap();
    let (q, corrupt) = open(&tmp.0);
    assert_eq!(corrupt.get(), 1);
    assert_eq!(q.size(), 2);
    assert_eq!(drain(&q, true).await, vec![1, 3]);
}

#[tokio::test]
async fn a_record_damaged_after_start_is_dropped_when_read() {
    let tmp = TempDir::new();
    let (q, corrupt) = open(&tmp.0);
    push_all(&q, &[1, 2]).await;
    let seg = segments(&tmp.0).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[30] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let e = q.pop().await.unwrap();
    assert_eq!(e.batch.items(), 2);
    assert_eq!(corrupt.get(), 1);
    q.ack(e.ticket);
    assert_eq!(q.size(), 0);
}

#[tokio::test]
async fn the_bound_counts_batches_until_they_are_acknowledged() {
    let tmp = TempDir::new();
    let (q, _) = open_with(&tmp.0, &settings(2, Sizer::Requests));
    push_all(&q, &[1, 2]).await;
    assert_eq!(q.push(batch(3), false).await, Err(PushError::Full));
    let e = q.pop().await.unwrap();
    assert_eq!(q.push(batch(3), false).await, Err(PushError::Full), "in flight still counts");
    q.ack(e.ticket);
    q.push(batch(3), false).await.unwrap();
    drop(q);
    // after a restart the backlog fills the queue again
    let (q, _) = open_with(&tmp.0, &settings(2, Sizer::Requests));
    assert_eq!(q.push(batch(4), false).await, Err(PushError::Full));
}

#[tokio::test]
async fn a_blocked_push_waits_for_an_acknowledgement() {
    let tmp = TempDir::new();
    let (q, _) = open_with(&tmp.0, &settings(1, Sizer::Requests));
    let q = Arc::new(q);
    push_all(&q, &[1]).await;
    let q2 = q.clone();
    let blocked = tokio::spawn(async move { q2.push(batch(2), true).await });
    let e = q.pop().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!blocked.is_finished());
    q.ack(e.ticket);
    tokio::time::timeout(Duration::from_secs(2), blocked).await.unwrap().unwrap().unwrap();
    assert_eq!(q.pop().await.unwrap().batch.items(), 2);
}

#[tokio::test]
async fn the_bytes_sizer_bounds_the_stored_payload() {
    let tmp = TempDir::new();
    let one = batch(1).encoded_len();
    let (q, _) = open_with(&tmp.0, &settings(one * 2 + 1, Sizer::Bytes));
    push_all(&q, &[1, 1]).await;
    assert_eq!(q.size(), one * 2);
    assert_eq!(q.push(batch(1), false).await, Err(PushError::Full));
    assert!(matches!(q.push(batch(50), true).await, Err(PushError::TooLarge { .. })));
}

#[tokio::test]
async fn a_closed_queue_keeps_its_backlog_for_the_next_start() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2]).await;
    q.close();
    assert!(q.pop().await.is_none());
    assert_eq!(q.push(batch(3), false).await, Err(PushError::Closed));
    drop(q);
    let (q, _) = open(&tmp.0);
    assert_eq!(q.size(), 2);
}

#[tokio::test]
async fn a_second_process_cannot_use_the_same_directory() {
    let tmp = TempDir::new();
    let (_q, _) = open(&tmp.0);
    let err = FileQueue::open("otlp", &tmp.0, Signal::Traces, &settings(10, Sizer::Requests), Counter::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("in use by another collector"), "{err}");
}

#[tokio::test]
async fn a_damaged_ack_file_resends_everything_instead_of_losing_it() {
    let tmp = TempDir::new();
    let (q, _) = open(&tmp.0);
    push_all(&q, &[1, 2]).await;
    let e = q.pop().await.unwrap();
    q.ack(e.ticket);
    drop(q);
    std::fs::write(tmp.0.join("ack"), b"garbage").unwrap();
    let (q, _) = open(&tmp.0);
    assert_eq!(drain(&q, true).await, vec![1, 2]);
}
