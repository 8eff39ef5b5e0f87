//! The matrix's load generator: pre-encoded export requests of any signal over
//! OTLP/gRPC (one HTTP/2 connection per client) or OTLP/HTTP (protobuf or
//! JSON; HTTP/1.1 keep-alive connections, one per outstanding request), at a
//! fixed rate or flat out.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use otelstack::otlp::grpc_codec::BytesCodec;
use otelstack::signal::Signal;
use tokio::sync::Semaphore;
use tonic::transport::{Channel, Endpoint};

use crate::signals::{Items, ITEMS_PER_REQUEST};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    HttpProto,
    HttpJson,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::HttpProto => "http/protobuf",
            Transport::HttpJson => "http/json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Fixed { items_per_sec: u64 },
    FlatOut,
}

#[derive(Default)]
pub struct LoadResult {
    pub items_ok: u64,
    pub items_failed: u64,
    pub items_rejected: u64,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
    pub behind_schedule: u64,
}

#[derive(Clone)]
enum Client {
    Grpc(tonic::client::Grpc<Channel>, PathAndQuery),
    Http(reqwest::Client, String, &'static str),
}

#[derive(Default)]
struct Counters {
    ok: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    behind: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// `partial_success.rejected_*` of an OTLP protobuf response (field 1 -> field 1
/// in all three signals).
fn rejected_proto(body: &[u8]) -> u64 {
    use prost::Message;
    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|r| r.partial_success)
        .map_or(0, |p| p.rejected_spans.max(0) as u64)
}

/// `partialSuccess.rejected{Spans,DataPoints,LogRecords}` of an OTLP/JSON response.
fn rejected_json(body: &[u8]) -> u64 {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else { return 0 };
    let Some(ps) = v.get("partialSuccess").and_then(|p| p.as_object()) else { return 0 };
    ps.iter()
        .filter(|(k, _)| k.starts_with("rejected"))
        .filter_map(|(_, v)| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        .sum()
}

impl Counters {
    async fn send(&self, client: Client, body: Bytes) {
        let res = tokio::time::timeout(Duration::from_secs(30), async {
            match client {
                Client::Grpc(mut c, path) => {
                    c.ready().await.map_err(|e| format!("grpc connect: {e}"))?;
                    let resp = c
                        .unary(tonic::Request::new(body), path, BytesCodec)
                        .await
                        .map_err(|s| format!("grpc {:?}", s.code()))?;
                    Ok(rejected_proto(resp.get_ref()))
                }
                Client::Http(c, url, content_type) => {
                    let resp = c
                        .post(url)
                        .header("content-type", content_type)
                        .body(body)
                        .send()
                        .await
                        .map_err(|e| format!("http: {e}"))?;
                    let status = resp.status();
                    let bytes = resp.bytes().await.map_err(|e| format!("http body: {e}"))?;
                    if !status.is_success() {
                        return Err(format!("http {}", status.as_u16()));
                    }
                    Ok(if content_type == "application/json" { rejected_json(&bytes) } else { rejected_proto(&bytes) })
                }
            }
        })
        .await;
        match res {
            Ok(Ok(rejected)) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.rejected.fetch_add(rejected, Ordering::Relaxed);
            }
            Ok(Err(e)) => self.fail(e),
            Err(_) => self.fail("client timeout".into()),
        }
    }

    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self.errors.lock().unwrap().entry(what).or_default() += 1;
    }
}

async fn client(transport: Transport, signal: Signal, grpc: SocketAddr, http: SocketAddr) -> anyhow::Result<Client> {
    let service = match signal {
        Signal::Traces => "trace.v1.TraceService",
        Signal::Metrics => "metrics.v1.MetricsService",
        Signal::Logs => "logs.v1.LogsService",
    };
    Ok(match transport {
        Transport::Grpc => {
            let ch = Endpoint::from_shared(format!("http://{grpc}"))?
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await?;
            let path = PathAndQuery::try_from(format!("/opentelemetry.proto.collector.{service}/Export"))?;
            Client::Grpc(
                tonic::client::Grpc::new(ch).max_decoding_message_size(64 << 20).max_encoding_message_size(64 << 20),
                path,
            )
        }
        Transport::HttpProto | Transport::HttpJson => {
            let c = reqwest::Client::builder().http1_only().tcp_nodelay(true).build()?;
            let url = format!("http://{http}/v1/{}", signal.as_str());
            let ct = if transport == Transport::HttpJson { "application/json" } else { "application/x-protobuf" };
            Client::Http(c, url, ct)
        }
    })
}

pub struct LoadConfig {
    pub signal: Signal,
    pub transport: Transport,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub mode: Mode,
    pub duration: Duration,
    pub connections: usize,
    /// Fixed rate: most requests outstanding per client. Flat out: workers per client.
    pub inflight: usize,
}

pub async fn run(cfg: &LoadConfig, items: Arc<Items>) -> anyhow::Result<LoadResult> {
    let mut clients = Vec::new();
    for _ in 0..cfg.connections {
        clients.push(client(cfg.transport, cfg.signal, cfg.grpc, cfg.http).await?);
    }
    let counters = Arc::new(Counters::default());
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + cfg.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in clients {
        let (counters, next, items) = (counters.clone(), next.clone(), items.clone());
        let (mode, inflight, conns) = (cfg.mode, cfg.inflight, cfg.connections);
        tasks.spawn(async move {
            match mode {
                Mode::Fixed { items_per_sec } => {
                    let per_conn = items_per_sec as f64 / conns as f64;
                    let period = Duration::from_secs_f64(ITEMS_PER_REQUEST as f64 / per_conn);
                    let offset = period.mul_f64(fastrand::f64());
                    let mut ticker = tokio::time::interval_at((start + offset).into(), period);
                    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    let sem = Arc::new(Semaphore::new(inflight));
                    let mut sends = tokio::task::JoinSet::new();
                    while ticker.tick().await.into_std() < end {
                        let permit = match sem.clone().try_acquire_owned() {
                            Ok(p) => p,
                            Err(_) => {
                                counters.behind.fetch_add(1, Ordering::Relaxed);
                                sem.clone().acquire_owned().await.expect("semaphore open")
                            }
                        };
                        let body = items.request(next.fetch_add(1, Ordering::Relaxed));
                        let (c, counters) = (c.clone(), counters.clone());
                        sends.spawn(async move {
                            counters.send(c, body).await;
                            drop(permit);
                        });
                        while sends.try_join_next().is_some() {}
                    }
                    while sends.join_next().await.is_some() {}
                }
                Mode::FlatOut => {
                    let mut workers = tokio::task::JoinSet::new();
                    for _ in 0..inflight {
                        let (c, counters, next, items) = (c.clone(), counters.clone(), next.clone(), items.clone());
                        workers.spawn(async move {
                            while Instant::now() < end {
                                let body = items.request(next.fetch_add(1, Ordering::Relaxed));
                                counters.send(c.clone(), body).await;
                            }
                        });
                    }
                    while workers.join_next().await.is_some() {}
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r?;
    }
    let per = ITEMS_PER_REQUEST as u64;
    let errors = counters.errors.lock().unwrap().clone();
    Ok(LoadResult {
        items_ok: counters.ok.load(Ordering::Relaxed) * per,
        items_failed: counters.failed.load(Ordering::Relaxed) * per,
        items_rejected: counters.rejected.load(Ordering::Relaxed),
        errors,
        elapsed: start.elapsed(),
        behind_schedule: counters.behind.load(Ordering::Relaxed),
    })
}
