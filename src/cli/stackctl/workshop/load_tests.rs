//! `workshop load` against a local server that records what arrived.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, Uri};

use super::*;

/// (method, path, traceparent) of every request the server got.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A web front stand-in: answers 200, except 503 for checkout.
async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let s = s.clone();
        async move {
            let tp = headers.get("traceparent").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            s.lock().unwrap().push((method.to_string(), uri.path().to_owned(), tp));
            if uri.path() == "/checkout" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn plan(url: &str, rps: f64, duration: Duration, max_requests: u64) -> Plan {
    Plan { url: url.to_owned(), rps, duration, max_requests, concurrency: 16, control: None, progress: false }
}

#[tokio::test]
async fn holds_the_rate_and_every_request_carries_its_journeys_trace() {
    let (url, seen) = server().await;
    // request i goes out at i/rps: 40 req/s for 1.5 s is exactly 60 requests
    let s = run_plan(&plan(&url, 40.0, Duration::from_millis(1500), 1000)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(s.sent, 60);
    assert_eq!(seen.len(), 60, "the server got every request sent");
    assert_eq!(s.skipped, 0);

    // the summary matches what the server saw
    let checkouts = seen.iter().filter(|(_, p, _)| p == "/checkout").count() as u64;
    assert_eq!(s.errors, checkouts);
    assert_eq!(s.ok, 60 - checkouts);
    assert_eq!(s.statuses.get("503").copied().unwrap_or(0), checkouts);
    assert_eq!(s.statuses.get("200").copied().unwrap_or(0), 60 - checkouts);
    assert!(s.p50_ms > 0.0 && s.p50_ms <= s.p95_ms && s.p95_ms <= s.p99_ms, "{s:?}");

    // every request has a valid, sampled W3C traceparent with its own span id
    let mut by_trace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut spans = std::collections::BTreeSet::new();
    for (method, path, tp) in &seen {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "traceparent {tp:?}");
        assert_eq!((parts[0], parts[3]), ("00", "01"), "{tp}");
        assert!(parts[1].len() == 32 && parts[1].chars().all(|c| c.is_ascii_hexdigit()) && parts[1] != "0".repeat(32));
        assert!(parts[2].len() == 16 && parts[2].chars().all(|c| c.is_ascii_hexdigit()));
        assert!(spans.insert(parts[2].to_owned()), "span id reused: {tp}");
        by_trace.entry(parts[1].to_owned()).or_default().push(format!("{method} {path}"));
    }
    // one trace per journey, its steps in order (the last journeys may be cut off by the end)
    let journeys_started: u64 = s.journeys.values().sum();
    assert_eq!(by_trace.len() as u64, journeys_started);
    let mut complete = 0;
    for steps in by_trace.values() {
        let want: Vec<Vec<String>> =
            WEIGHTS.iter().map(|(j, _)| j.steps().iter().map(|(m, p)| format!("{m} {p}")).collect()).collect();
        assert!(want.iter().any(|w| w.starts_with(steps)), "not a journey: {steps:?}");
        complete += usize::from(want.contains(steps));
    }
    assert!(complete + 2 >= by_trace.len(), "at most the last two journeys are unfinished");
    assert!(s.journeys.contains_key("browse"), "{:?}", s.journeys);
}

#[tokio::test]
async fn stops_at_max_requests_before_the_duration() {
    let (url, seen) = server().await;
    let s = run_plan(&plan(&url, 200.0, Duration::from_secs(60), 7)).await;
    assert_eq!(s.sent, 7);
    assert_eq!(seen.lock().unwrap().len(), 7);
    assert!(s.elapsed_seconds < 30.0, "bounded by count, not by the 60 s duration");
}

#[tokio::test]
async fn an_unreachable_target_counts_transport_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let s = run_plan(&plan(&format!("http://{closed}"), 50.0, Duration::from_millis(200), 100)).await;
    assert_eq!(s.sent, 10);
    assert_eq!((s.ok, s.errors), (0, 10));
    assert_eq!(s.statuses, BTreeMap::from([("transport".to_owned(), 10)]));
}

#[tokio::test]
async fn a_traffic_spike_multiplies_the_rate() {
    let (url, seen) = server().await;
    let dir = std::env::temp_dir().join(format!("ws-load-spike-{}", std::process::id()));
    let path = control::file(&dir);
    control::write(&path, "traffic-spike", Some(Duration::from_secs(60))).unwrap();
    let mut p = plan(&url, 20.0, Duration::from_millis(1000), 1000);
    p.control = Some(path);
    let s = run_plan(&p).await;
    assert_eq!(s.sent, 60, "20 req/s x 3 for 1 s");
    assert_eq!(seen.lock().unwrap().len(), 60);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn percentiles_use_the_nearest_rank() {
    let v: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
    assert_eq!(percentile_ms(&v, 0.50), 50.0);
    assert_eq!(percentile_ms(&v, 0.95), 95.0);
    assert_eq!(percentile_ms(&v, 0.99), 99.0);
    assert_eq!(percentile_ms(&[7000], 0.95), 7.0);
    assert_eq!(percentile_ms(&[], 0.95), 0.0);
}

#[test]
fn the_progress_line_shows_rate_errors_and_p95() {
    assert_eq!(progress_line(120, 100, 5, 42.25, 12.0), "  12s  sent 120  10.0 req/s  errors 5 (5.0%)  p95 42.2 ms");
}
