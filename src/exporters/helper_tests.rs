use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::testkit::{spans, traces_batch};

/// An export that fails with the scripted errors, then succeeds.
struct Scripted {
    errors: Mutex<Vec<ExportError>>,
    calls: Arc<AtomicUsize>,
    delivered: Arc<AtomicUsize>,
}

impl Export for Scripted {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Some(e) = self.errors.lock().unwrap().pop() {
                return Err(e);
            }
            self.delivered.fetch_add(batch.items(), Ordering::SeqCst);
            Ok(PartialSuccess::default())
        })
    }
}

fn settings(queue: bool) -> HelperSettings {
    HelperSettings {
        timeout: Duration::from_secs(1),
        retry: RetryConfig {
            initial_interval: GoDuration::millis(10),
            max_interval: GoDuration::millis(20),
            ..Default::default()
        },
        queue: QueueConfig { enabled: queue, queue_size: 2, num_consumers: 1, ..Default::default() },
    }
}

fn exporter(
    errors: Vec<ExportError>,
    queue: bool,
) -> (BuiltExporter, Arc<AtomicUsize>, Arc<AtomicUsize>, ExporterMetrics) {
    let calls = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let metrics = crate::telemetry::Telemetry::new().exporter(crate::signal::Signal::Traces, "test");
    let export = Scripted { errors: Mutex::new(errors), calls: calls.clone(), delivered: delivered.clone() };
    (build("test".into(), Box::new(export), settings(queue), metrics.clone()), calls, delivered, metrics)
}

#[tokio::test]
async fn retries_retryable_errors_then_delivers() {
    let errs = vec![
        ExportError::retryable("503"),
        ExportError::Retryable { message: "429".into(), retry_after: Some(Duration::from_millis(5)) },
    ];
    let (e, calls, delivered, metrics) = exporter(errs, false);
    e.consumer.consume(traces_batch(vec![spans("s", "x", 4)])).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(delivered.load(Ordering::SeqCst), 4);
    assert_eq!((metrics.sent.get(), metrics.send_failed.get()), (4, 0));
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let (e, calls, _, metrics) = exporter(vec![ExportError::Permanent("400 bad".into())], false);
    let r = e.consumer.consume(traces_batch(vec![spans("s", "x", 2)])).await;
    assert_eq!(r, Err(ConsumeError::Permanent("400 bad".into())));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(metrics.send_failed.get(), 2);
}

#[tokio::test]
async fn queue_drains_on_shutdown_and_refuses_when_full() {
    // the first export waits on retries, so the queue (2) fills behind it
    let errs = (0..5).map(|_| ExportError::retryable("down")).collect();
    let (e, _, delivered, metrics) = exporter(errs, true);
    let mut accepted = 0;
    let mut refused = 0;
    for i in 0..6 {
        match e.consumer.consume(traces_batch(vec![spans("s", &format!("b{i}"), 1)])).await {
            Ok(()) => accepted += 1,
            Err(ConsumeError::Refused { .. }) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "a full queue refuses");
    assert_eq!(metrics.enqueue_failed.get(), refused);
    e.running.shutdown(Instant::now() + Duration::from_secs(5)).await;
    assert_eq!(
        delivered.load(Ordering::SeqCst) as u64,
        accepted,
        "everything accepted is delivered before shutdown ends"
    );
}

#[test]
fn backoff_grows_and_is_capped() {
    let r = RetryConfig { randomization_factor: 0.0, ..Default::default() };
    assert_eq!(r.backoff(0), Duration::from_secs(5));
    assert_eq!(r.backoff(1), Duration::from_secs_f64(7.5));
    assert_eq!(r.backoff(10), Duration::from_secs(30));
}
