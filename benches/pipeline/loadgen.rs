//! The load generator: several HTTP/2 connections sending pre-encoded
//! `ExportTraceServiceRequest`s, either at a fixed rate or as fast as the
//! collector answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tokio::sync::Semaphore;
use tonic::transport::{Channel, Endpoint};

use super::payload::{Payloads, SPANS_PER_REQUEST};
use otelstack::otlp::grpc_codec::BytesCodec;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Open-loop: this many spans per second in total.
    Fixed { spans_per_sec: u64 },
    /// Closed-loop: every worker sends its next request when the last is answered.
    FlatOut,
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub target: SocketAddr,
    pub mode: Mode,
    pub duration: Duration,
    /// Start of the window for `LoadResult::sustained_rate`.
    pub warm_up: Duration,
    pub connections: usize,
    /// Fixed rate: most requests outstanding per connection. Flat out: workers per connection.
    pub inflight_per_conn: usize,
}

#[derive(Debug, Default)]
pub struct LoadResult {
    pub spans_ok: u64,
    pub spans_failed: u64,
    /// `partial_success.rejected_spans` summed over OK answers.
    pub spans_rejected: u64,
    pub errors: BTreeMap<String, u64>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    /// Acknowledged spans/s between `warm_up` after the start and the end of the send window.
    pub sustained_rate: f64,
    /// Requests the fixed-rate schedule wanted but could not send (too many outstanding).
    pub behind_schedule: u64,
}

#[derive(Default)]
struct Counters {
    requests_ok: AtomicU64,
    requests_failed: AtomicU64,
    spans_rejected: AtomicU64,
    behind: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    async fn send(&self, mut client: tonic::client::Grpc<Channel>, body: Bytes) {
        let res = tokio::time::timeout(REQUEST_TIMEOUT, async {
            client.ready().await.map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            client.unary(tonic::Request::new(body), PathAndQuery::from_static(EXPORT_PATH), BytesCodec).await
        })
        .await;
        match res {
            Ok(Ok(resp)) => {
                self.requests_ok.fetch_add(1, Ordering::Relaxed);
                let body = resp.into_inner();
                if !body.is_empty() {
                    if let Ok(r) = ExportTraceServiceResponse::decode(body) {
                        let rejected = r.partial_success.map_or(0, |p| p.rejected_spans);
                        self.spans_rejected.fetch_add(rejected.max(0) as u64, Ordering::Relaxed);
                    }
                }
            }
            Ok(Err(status)) => self.fail(format!("{:?}", status.code())),
            Err(_) => self.fail("client timeout".to_string()),
        }
    }

    fn fail(&self, what: String) {
        self.requests_failed.fetch_add(1, Ordering::Relaxed);
        *self.errors.lock().unwrap().entry(what).or_default() += 1;
    }
}

async fn connect(target: SocketAddr) -> anyhow::Result<Channel> {
    let ep =
        Endpoint::from_shared(format!("http://{target}"))?.tcp_nodelay(true).connect_timeout(Duration::from_secs(5));
    // Force a real connection per channel (one HTTP/2 connection each).
    Ok(ep.connect().await?)
}

pub async fn run(cfg: &LoadConfig, payloads: Arc<Payloads>) -> anyhow::Result<LoadResult> {
    let mut clients = Vec::with_capacity(cfg.connections);
    for _ in 0..cfg.connections {
        let ch = connect(cfg.target).await?;
        clients
            .push(tonic::client::Grpc::new(ch).max_decoding_message_size(64 << 20).max_encoding_message_size(64 << 20));
    }
    let counters = Arc::new(Counters::default());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + cfg.duration;
    let window = {
        let counters = counters.clone();
        let (from, to) = (start + cfg.warm_up, end);
        tokio::spawn(async move {
            tokio::time::sleep_until(from.into()).await;
            let a = counters.requests_ok.load(Ordering::Relaxed);
            tokio::time::sleep_until(to.into()).await;
            let b = counters.requests_ok.load(Ordering::Relaxed);
            ((b - a) * SPANS_PER_REQUEST as u64) as f64 / (to - from).as_secs_f64()
        })
    };
    let mut tasks = Vec::new();
    for client in clients {
        let (counters, next, payloads) = (counters.clone(), next.clone(), payloads.clone());
        let cfg = cfg.clone();
        tasks.push(tokio::spawn(async move {
            match cfg.mode {
                Mode::Fixed { spans_per_sec } => {
                    fixed_rate(client, cfg, spans_per_sec, start, end, counters, next, payloads).await
                }
                Mode::FlatOut => flat_out(client, cfg, end, counters, next, payloads).await,
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let elapsed = start.elapsed();
    let sustained_rate = window.await?;
    let requests_ok = counters.requests_ok.load(Ordering::Relaxed);
    let requests_failed = counters.requests_failed.load(Ordering::Relaxed);
    let errors = counters.errors.lock().unwrap().clone();
    Ok(LoadResult {
        spans_ok: requests_ok * SPANS_PER_REQUEST as u64,
        spans_failed: requests_failed * SPANS_PER_REQUEST as u64,
        spans_rejected: counters.spans_rejected.load(Ordering::Relaxed),
        errors,
        elapsed,
        sustained_rate,
        behind_schedule: counters.behind.load(Ordering::Relaxed),
    })
}

#[allow(clippy::too_many_arguments)]
async fn fixed_rate(
    client: tonic::client::Grpc<Channel>,
    cfg: LoadConfig,
    spans_per_sec: u64,
    start: Instant,
    end: Instant,
    counters: Arc<Counters>,
    next: Arc<AtomicU64>,
    payloads: Arc<Payloads>,
) {
    let per_conn = spans_per_sec as f64 / cfg.connections as f64;
    let period = Duration::from_secs_f64(SPANS_PER_REQUEST as f64 / per_conn);
    // Stagger connections across one period.
    let offset = period.mul_f64(fastrand::f64());
    let mut ticker = tokio::time::interval_at((start + offset).into(), period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let sem = Arc::new(Semaphore::new(cfg.inflight_per_conn));
    let mut inflight = tokio::task::JoinSet::new();
    loop {
        let tick = ticker.tick().await;
        if tick.into_std() >= end {
            break;
        }
        let permit = match sem.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                counters.behind.fetch_add(1, Ordering::Relaxed);
                match sem.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                }
            }
        };
        let n = next.fetch_add(1, Ordering::Relaxed);
        let body = payloads.request(n);
        let (client, counters) = (client.clone(), counters.clone());
        inflight.spawn(async move {
            counters.send(client, body).await;
            drop(permit);
        });
        while inflight.try_join_next().is_some() {}
    }
    while inflight.join_next().await.is_some() {}
}

async fn flat_out(
    client: tonic::client::Grpc<Channel>,
    cfg: LoadConfig,
    end: Instant,
    counters: Arc<Counters>,
    next: Arc<AtomicU64>,
    payloads: Arc<Payloads>,
) {
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..cfg.inflight_per_conn {
        let (client, counters, next, payloads) = (client.clone(), counters.clone(), next.clone(), payloads.clone());
        workers.spawn(async move {
            while Instant::now() < end {
                let n = next.fetch_add(1, Ordering::Relaxed);
                counters.send(client.clone(), payloads.request(n)).await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
}
