//! Unit tests of the alert exporter's configuration and queue.

use super::*;
use crate::component::ComponentId;
use crate::component::Validate;
use crate::testkit::{spans, traces_batch};

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_waiting() {
    // the endpoint is never reached: group_wait is an hour
    let cfg = parse(serde_json::json!({"endpoint": "http://127.0.0.1:9", "queue_size": 1, "group_wait": "1h"}));
    let telemetry = Arc::new(crate::telemetry::Telemetry::new());
    let ctx = BuildContext::new(ComponentId::parse("alert").unwrap(), telemetry.clone());
    let built = cfg.build(ctx, Signal::Traces).unwrap();
    // the ingest task has not run yet (current-thread runtime): the
    // second and third batches find the queue full
    for _ in 0..3 {
        assert!(built.consumer.consume(traces_batch(vec![spans("svc", "op", 4)])).await.is_ok());
    }
    let metrics = telemetry.encode();
    let line = metrics.lines().find(|l| l.starts_with("otelcol_exporter_enqueue_failed_spans")).unwrap();
    assert!(line.ends_with(" 8"), "{line}");
    built.running.shutdown(tokio::time::Instant::now()).await;
}

fn parse(v: serde_json::Value) -> AlertConfig {
    parse_section::<AlertConfig>(v).unwrap()
}

#[test]
fn alertmanager_url_and_validation() {
    let c = parse(serde_json::json!({"endpoint": "http://127.0.0.1:9093/"}));
    assert_eq!(c.url(), "http://127.0.0.1:9093/api/v2/alerts");
    assert!(c.validate().is_ok());
    assert_eq!(parse(serde_json::json!({})).validate().unwrap_err().path, "endpoint");
    let c = parse(serde_json::json!({"endpoint": "http://h:9093", "format": "slack"}));
    assert_eq!(c.validate().unwrap_err().path, "format");
    let c = parse(serde_json::json!({"target": "webhook", "endpoint": "http://h/x", "format": "slack"}));
    assert_eq!(c.url(), "http://h/x");
    assert!(c.validate().is_ok());
    let c = parse(serde_json::json!({"endpoint": "http://h", "labels": {"service": "x"}}));
    assert_eq!(c.validate().unwrap_err().path, "labels.service");
    assert!(parse_section::<AlertConfig>(serde_json::json!({"endpoint": "http://h", "target": "pager"})).is_err());
}
