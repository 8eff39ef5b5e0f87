use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::component::{BuildContext, ComponentId};
use crate::config::types::GoDuration;
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

#[tokio::test]
async fn a_persistent_queue_keeps_what_shutdown_interrupted_and_sends_it_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("otelstack-helper-{}-{}", std::process::id(), fastrand::u64(..)));
    let storage_id = ComponentId::parse("file_storage/q").unwrap();
    let storage =
        crate::runtime::StorageSettings { directory: dir.clone(), timeout: Duration::from_secs(1), fsync: true };
    let mut ctx = BuildContext::new(ComponentId::parse("otlp").unwrap(), Arc::new(crate::telemetry::Telemetry::new()));
    let offered = crate::runtime::Offered { storage: Some(storage), ..Default::default() };
    ctx.host = crate::runtime::Host::new([(storage_id, offered)].into_iter().collect());
    let mut s = settings(true);
    s.queue.storage = Some("file_storage/q".into());
    s.retry.max_elapsed_time = GoDuration::secs(0);
    let start = |errors: Vec<ExportError>| {
        let delivered = Arc::new(AtomicUsize::new(0));
        let export = Scripted { errors: Mutex::new(errors), calls: Default::default(), delivered: delivered.clone() };
        (build_for(&ctx, crate::signal::Signal::Traces, Box::new(export), s.clone()).unwrap(), delivered)
    };

    // the backend is down: retries run until shutdown interrupts them
    let (e, delivered) = start((0..1000).map(|_| ExportError::retryable("down")).collect());
    e.consumer.consume(traces_batch(vec![spans("s", "x", 3)])).await.unwrap();
    e.running.shutdown(Instant::now() + Duration::from_millis(200)).await;
    assert_eq!(delivered.load(Ordering::SeqCst), 0);
    let metrics = ctx.telemetry.exporter(crate::signal::Signal::Traces, "otlp");
    assert_eq!(metrics.send_failed.get(), 0, "kept for the next start, not dropped");
    drop(e);

    // the next start finds it on disk and delivers it
    let (e, delivered) = start(vec![]);
    assert_eq!(metrics.queue_size.get(), 1, "the gauge shows the stored backlog");
    tokio::time::timeout(Duration::from_secs(5), async {
        while delivered.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    e.running.shutdown(Instant::now() + Duration::from_secs(1)).await;
    assert_eq!(metrics.queue_size.get(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Answers every export with a partial success rejecting `rejected` items.
struct PartiallyRejecting {
    rejected: i64,
    calls: Arc<AtomicUsize>,
}

impl Export for PartiallyRejecting {
    fn export(&self, _batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(PartialSuccess { rejected: self.rejected, error_message: "2 spans had no name".into() })
        })
    }
}

#[tokio::test]
async fn partial_success_is_counted_and_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let metrics = crate::telemetry::Telemetry::new().exporter(crate::signal::Signal::Traces, "test");
    let export = PartiallyRejecting { rejected: 2, calls: calls.clone() };
    let e = build("test".into(), Box::new(export), settings(false), metrics.clone());
    e.consumer.consume(traces_batch(vec![spans("s", "x", 5)])).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a partial success is final");
    assert_eq!((metrics.sent.get(), metrics.send_failed.get()), (3, 2));
}

/// An export that turns the batch into a body once and then sends only it.
struct Preparing {
    prepared: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Bytes>>>,
    failures_left: AtomicUsize,
}

impl Export for Preparing {
    fn export(&self, _batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async { panic!("a prepared batch is sent as its body") })
    }

    fn prepare(&self, batch: Batch) -> BoxFuture<'_, Result<Request, ExportError>> {
        Box::pin(async move {
            self.prepared.fetch_add(1, Ordering::SeqCst);
            Ok(Request::Body(Bytes::from(format!("{} items", batch.items()))))
        })
    }

    fn export_body(&self, body: Bytes) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            self.bodies.lock().unwrap().push(body);
            if self.failures_left.load(Ordering::SeqCst) > 0 {
                self.failures_left.fetch_sub(1, Ordering::SeqCst);
                return Err(ExportError::retryable("503"));
            }
            Ok(PartialSuccess::default())
        })
    }
}

#[tokio::test]
async fn a_prepared_body_is_made_once_and_resent_on_every_retry() {
    let prepared = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let export = Preparing { prepared: prepared.clone(), bodies: bodies.clone(), failures_left: AtomicUsize::new(2) };
    let metrics = crate::telemetry::Telemetry::new().exporter(crate::signal::Signal::Traces, "test");
    let e = build("test".into(), Box::new(export), settings(false), metrics.clone());
    e.consumer.consume(traces_batch(vec![spans("s", "x", 3)])).await.unwrap();
    assert_eq!(prepared.load(Ordering::SeqCst), 1);
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies, vec![Bytes::from("3 items"); 3]);
    assert_eq!((metrics.sent.get(), metrics.send_failed.get()), (3, 0));
}
