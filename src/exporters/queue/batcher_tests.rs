use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;

use super::*;
use crate::component::{BuiltExporter, Consumer};
use crate::exporters::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::exporters::queue::file::{FileQueue, FileQueueSettings};
use crate::exporters::queue::memory::MemoryQueue;
use crate::otlp::PartialSuccess;
use crate::signal::Signal;
use crate::testkit::{spans, traces_batch, CollectSink};

/// Records what arrives; fails the first `fail` calls with a retryable error.
struct Recorder {
    sink: Arc<CollectSink>,
    fail: std::sync::Mutex<usize>,
}

impl Export for Recorder {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            {
                let mut fail = self.fail.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    return Err(ExportError::retryable("503"));
                }
            }
            self.sink.consume(batch).await.unwrap();
            Ok(PartialSuccess::default())
        })
    }
}

fn cfg(min: i64, max: i64, sizer: &str) -> QueueBatchConfig {
    QueueBatchConfig { flush_timeout: GoDuration::millis(200), min_size: min, max_size: max, sizer: sizer.into() }
}

fn settings(batch: QueueBatchConfig, retry_interval: Duration) -> HelperSettings {
    HelperSettings {
        timeout: Duration::from_secs(1),
        retry: RetryConfig {
            initial_interval: GoDuration(retry_interval),
            max_interval: GoDuration(retry_interval),
            max_elapsed_time: GoDuration::secs(0),
            ..Default::default()
        },
        queue: QueueConfig { queue_size: 1000, num_consumers: 2, batch: Some(batch), ..Default::default() },
    }
}

fn metrics() -> crate::telemetry::ExporterMetrics {
    crate::telemetry::Telemetry::new().exporter(Signal::Traces, "test")
}

fn exporter(batch: QueueBatchConfig, fail: usize) -> (BuiltExporter, Arc<CollectSink>) {
    let sink = Arc::new(CollectSink::default());
    let export = Recorder { sink: sink.clone(), fail: std::sync::Mutex::new(fail) };
    (helper::build("test".into(), Box::new(export), settings(batch, Duration::from_millis(5)), metrics()), sink)
}

/// `count` requests of `n` spans each, named `r{i}-{j}`.
async fn send(e: &BuiltExporter, count: usize, n: usize) {
    for i in 0..count {
        e.consumer.consume(traces_batch(vec![spans("svc", &format!("r{i}"), n)])).await.unwrap();
    }
}

fn expected(count: usize, n: usize) -> Vec<String> {
    (0..count).flat_map(|i| (0..n).map(move |j| format!("r{i}-{j}"))).collect()
}

/// Every span exactly once, whatever the order.
fn assert_exactly_once(sink: &CollectSink, want: Vec<String>) {
    let mut got = sink.span_names();
    got.sort();
    let mut want = want;
    want.sort();
    assert_eq!(got, want);
}

async fn shutdown(e: &BuiltExporter) {
    e.running.shutdown(tokio::time::Instant::now() + Duration::from_secs(5)).await;
}

#[tokio::test]
async fn merges_small_requests_up_to_min_size() {
    let (e, sink) = exporter(cfg(10, 0, "items"), 0);
    send(&e, 10, 2).await;
    shutdown(&e).await;
    assert_eq!(sink.sizes(), vec![10, 10]);
    assert_exactly_once(&sink, expected(10, 2));
}

/// Waits (bounded) until `n` items arrived.
async fn until_items(sink: &CollectSink, n: usize) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while sink.items() < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the data did not arrive");
}

#[tokio::test]
async fn flushes_what_it_has_after_flush_timeout() {
    // min_size is never reached: only the timeout can send, before shutdown
    let (e, sink) = exporter(cfg(100, 0, "items"), 0);
    send(&e, 3, 1).await;
    until_items(&sink, 3).await;
    assert_eq!(sink.sizes(), vec![3]);
    send(&e, 1, 4).await;
    until_items(&sink, 7).await;
    assert_eq!(sink.sizes(), vec![3, 4]);
    shutdown(&e).await;
}

#[tokio::test]
async fn splits_at_max_size_exactly() {
    let (e, sink) = exporter(cfg(10, 4, "items"), 0);
    send(&e, 1, 10).await;
    shutdown(&e).await;
    let mut sizes = sink.sizes();
    sizes.sort();
    assert_eq!(sizes, vec![2, 4, 4]);
    assert_exactly_once(&sink, expected(1, 10));
}

#[tokio::test]
async fn the_remainder_of_a_split_waits_for_the_next_requests() {
    // 8 + 8 = 16 is split into 12 + 4; the 4 are kept back and merged with the
    // next 8, instead of going out as a small request
    let (e, sink) = exporter(QueueBatchConfig { flush_timeout: GoDuration::secs(30), ..cfg(10, 12, "items") }, 0);
    send(&e, 3, 8).await;
    until_items(&sink, 24).await;
    assert_eq!(sink.sizes(), vec![12, 12]);
    assert_exactly_once(&sink, expected(3, 8));
    shutdown(&e).await;
}

#[tokio::test]
async fn the_bytes_sizer_merges_and_splits_by_encoded_size() {
    let one = traces_batch(vec![spans("svc", "r0", 1)]).encoded_len();
    let (e, sink) = exporter(cfg(one as i64 * 5, one as i64 * 3, "bytes"), 0);
    send(&e, 10, 1).await;
    shutdown(&e).await;
    let batches = sink.batches.lock().unwrap().iter().map(|b| (b.items(), b.encoded_len())).collect::<Vec<_>>();
    assert!(batches.iter().all(|(_, len)| *len <= one * 3), "a piece is over max_size: {batches:?}");
    assert!(batches.len() < 10, "nothing was merged: {batches:?}");
    assert_exactly_once(&sink, expected(10, 1));
}

#[test]
fn bytes_split_keeps_every_item_under_max() {
    let batch = traces_batch(vec![spans("svc", "a", 37), spans("other", "b", 5)]);
    let max = batch.encoded_len() / 7;
    let pieces = split(batch, Sizer::Bytes, max).unwrap();
    assert!(pieces.iter().all(|p| p.encoded_len() <= max));
    assert_eq!(pieces.iter().map(Batch::items).sum::<usize>(), 42);
}

#[tokio::test]
async fn a_failed_export_is_retried_without_loss_or_duplicates() {
    let (e, sink) = exporter(cfg(6, 4, "items"), 3);
    send(&e, 6, 2).await;
    shutdown(&e).await;
    assert!(sink.sizes().iter().all(|s| *s <= 4));
    assert_exactly_once(&sink, expected(6, 2));
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn file_exporter(dir: &std::path::Path, fail: usize, retry: Duration) -> (BuiltExporter, Arc<CollectSink>) {
    let s = settings(cfg(8, 5, "items"), retry);
    let fs = FileQueueSettings {
        capacity: 1000,
        sizer: Sizer::Requests,
        fsync: false,
        lock_timeout: Duration::from_secs(1),
    };
    let queue = FileQueue::open("test", dir, Signal::Traces, &fs, Default::default()).unwrap();
    let sink = Arc::new(CollectSink::default());
    let export = Recorder { sink: sink.clone(), fail: std::sync::Mutex::new(fail) };
    (helper::assemble("test".into(), Box::new(export), s, metrics(), Some(Arc::new(queue))), sink)
}

#[tokio::test]
async fn the_file_queue_keeps_undelivered_requests_across_a_restart() {
    let dir = TempDir(std::env::temp_dir().join(format!("otelstack-qbatch-{}", fastrand::u64(..))));
    // First run: the destination is down, so nothing is delivered.
    let (e, sink) = file_exporter(&dir.0, usize::MAX, Duration::from_millis(20));
    send(&e, 12, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown(&e).await;
    assert!(sink.sizes().is_empty());
    drop(e);
    // Second run: every stored request arrives, merged, exactly once.
    let (e, sink) = file_exporter(&dir.0, 0, Duration::from_millis(5));
    until_items(&sink, 12).await;
    shutdown(&e).await;
    assert!(sink.sizes().iter().all(|s| *s <= 5), "{:?}", sink.sizes());
    assert!(sink.sizes().len() < 12, "nothing was merged: {:?}", sink.sizes());
    assert_exactly_once(&sink, expected(12, 1));
    drop(e);
    // Third run: what was delivered was acknowledged and is not sent again.
    let (e, sink) = file_exporter(&dir.0, 0, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    shutdown(&e).await;
    assert_eq!(sink.items(), 0);
}

#[test]
fn config_errors_name_the_key() {
    let check = |b: QueueBatchConfig, queue_sizer: &str| b.validate(queue_sizer, 1000).unwrap_err();
    let e = check(cfg(10, 5, "items"), "requests");
    assert_eq!(e.path, "sending_queue.batch.max_size");
    assert_eq!(e.message, "`max_size` (5) must be greater or equal to `min_size` (10)");
    let e = check(QueueBatchConfig { flush_timeout: GoDuration::millis(0), ..cfg(1, 0, "items") }, "requests");
    assert_eq!(e.path, "sending_queue.batch.flush_timeout");
    assert_eq!(check(cfg(1, 0, "requests"), "requests").path, "sending_queue.batch.sizer");
    assert_eq!(check(cfg(-1, 0, "items"), "requests").path, "sending_queue.batch.min_size");
    assert_eq!(check(cfg(0, -1, "items"), "requests").path, "sending_queue.batch.max_size");
    let e = check(cfg(2000, 0, "items"), "items");
    assert_eq!(e.path, "sending_queue.batch.min_size");
    assert!(e.message.contains("`queue_size` (1000)"));
    // a queue counted in another unit does not bound min_size
    cfg(2000, 0, "items").validate("requests", 1000).unwrap();
}

#[test]
fn an_empty_batch_key_enables_the_defaults() {
    let q: QueueConfig = serde_json::from_value(serde_json::json!({"batch": null})).unwrap();
    let b = q.batch.expect("batch enabled");
    assert_eq!((b.min_size, b.max_size, b.sizer.as_str()), (8192, 0, "items"));
    assert_eq!(b.flush_timeout.0, Duration::from_millis(200));
    let q: QueueConfig =
        serde_json::from_value(serde_json::json!({"batch": {"min_size": 10, "max_size": 20, "sizer": "bytes"}}))
            .unwrap();
    assert_eq!(q.batch.unwrap().max_size, 20);
    let q: QueueConfig = serde_json::from_value(serde_json::json!({"queue_size": 5})).unwrap();
    assert!(q.batch.is_none(), "batching is off unless configured");
    assert!(serde_json::from_value::<QueueConfig>(serde_json::json!({"batch": {"min_items": 3}})).is_err());
}

#[tokio::test]
async fn an_unbatched_queue_still_sends_request_by_request() {
    let sink = Arc::new(CollectSink::default());
    let export = Recorder { sink: sink.clone(), fail: std::sync::Mutex::new(0) };
    let mut s = settings(cfg(10, 0, "items"), Duration::from_millis(5));
    s.queue.batch = None;
    let queue = Arc::new(MemoryQueue::new(100, Sizer::Requests));
    let e = helper::assemble("test".into(), Box::new(export), s, metrics(), Some(queue));
    send(&e, 3, 2).await;
    shutdown(&e).await;
    assert_eq!(sink.sizes(), vec![2, 2, 2]);
}
