use std::sync::Arc;

use super::*;
use crate::component::ComponentId;
use crate::testkit::{spans, traces_batch, CollectSink};

fn build(cfg: BatchConfig, sink: Arc<CollectSink>) -> BuiltProcessor {
    let ctx = BuildContext::new(ComponentId::parse("batch").unwrap(), Arc::new(crate::telemetry::Telemetry::new()));
    cfg.build(ctx, Signal::Traces, sink).unwrap()
}

fn cfg(size: usize, max: usize, timeout_ms: u64) -> BatchConfig {
    BatchConfig {
        send_batch_size: size,
        send_batch_max_size: max,
        timeout: GoDuration::millis(timeout_ms),
        ..Default::default()
    }
}

#[tokio::test]
async fn size_trigger_merges_requests_in_order() {
    let sink = Arc::new(CollectSink::default());
    let p = build(cfg(10, 0, 60_000), sink.clone());
    for i in 0..4 {
        p.consumer.consume(traces_batch(vec![spans("svc", &format!("r{i}"), 3)])).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 3+3+3 < 10, the fourth request reaches 12: one merged batch of all 12
    assert_eq!(sink.sizes(), vec![12]);
    let names = sink.span_names();
    assert_eq!(names.first().map(String::as_str), Some("r0-0"));
    assert_eq!(names.last().map(String::as_str), Some("r3-2"));
    p.running.unwrap().shutdown(Instant::now() + Duration::from_secs(1)).await;
}

#[tokio::test]
async fn max_size_splits_exactly_and_the_remainder_waits_for_the_timeout() {
    let sink = Arc::new(CollectSink::default());
    let p = build(cfg(10, 10, 400), sink.clone());
    p.consumer.consume(traces_batch(vec![spans("svc", "x", 25)])).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.sizes(), vec![10, 10], "5 spans are below send_batch_size and wait");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sink.sizes(), vec![10, 10, 5]);
    let expected: Vec<String> = (0..25).map(|i| format!("x-{i}")).collect();
    assert_eq!(sink.span_names(), expected);
    p.running.unwrap().shutdown(Instant::now() + Duration::from_secs(1)).await;
}

#[tokio::test]
async fn timeout_flushes_a_small_batch() {
    let sink = Arc::new(CollectSink::default());
    let p = build(cfg(8192, 0, 50), sink.clone());
    p.consumer.consume(traces_batch(vec![spans("svc", "t", 2)])).await.unwrap();
    assert_eq!(sink.items(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.sizes(), vec![2]);
    p.running.unwrap().shutdown(Instant::now() + Duration::from_secs(1)).await;
}

#[tokio::test]
async fn shutdown_flushes_and_refused_batches_are_retried_not_dropped() {
    let sink = Arc::new(CollectSink::default());
    *sink.refuse_next.lock().unwrap() = 3;
    let p = build(cfg(8192, 0, 60_000), sink.clone());
    p.consumer.consume(traces_batch(vec![spans("svc", "a", 5)])).await.unwrap();
    p.consumer.consume(traces_batch(vec![spans("svc", "b", 5)])).await.unwrap();
    p.running.unwrap().shutdown(Instant::now() + Duration::from_secs(5)).await;
    assert_eq!(sink.items(), 10, "everything accepted arrives despite three refusals");
    let after = p.consumer.consume(traces_batch(vec![spans("svc", "late", 1)])).await;
    assert!(matches!(after, Err(ConsumeError::Refused { .. })), "no new data after shutdown");
}
