//! The two collectors as the matrix runs them: OTLP gRPC and HTTP receivers,
//! a batch stage, and an OTLP/gRPC exporter to the sink, for all three signals
//! at once, each collector as its own process (started, probed and stopped
//! by benches/pipeline/collector.rs).

use std::net::SocketAddr;
use std::path::Path;

use crate::collector::{free_port, Collector, Compression, Kind, Launch, OtelstackConfig, PipelineSettings};

/// otelcol's batch defaults (8192 items, 200 ms) in both collectors.
/// `BENCH_MEMORY_LIMIT_MIB` puts a `memory_limiter` (spike 20%) in front of
/// otelstack's batch; `BENCH_QUEUE_SIZER` / `BENCH_QUEUE_SIZE` override
/// otelcol's sending_queue defaults (`requests`, 1000) in otelstack's config,
/// e.g. `bytes` and `67108864` to bound the queue by what it holds rather
/// than by batch count.
pub fn start(kind: Kind, bin: &Path, workdir: &Path, sink: SocketAddr, c: Compression) -> anyhow::Result<Collector> {
    let (grpc, http) = (free_port()?, free_port()?);
    let launch = match kind {
        Kind::Otelstack => {
            let env = |var: &str| std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
            let config = OtelstackConfig {
                grpc,
                http: Some(http),
                sink,
                compression: c,
                signals: &["traces", "metrics", "logs"],
                memory_limit_mib: env("BENCH_MEMORY_LIMIT_MIB").and_then(|v| v.parse().ok()),
                queue: [("sizer", "BENCH_QUEUE_SIZER"), ("queue_size", "BENCH_QUEUE_SIZE")]
                    .into_iter()
                    .filter_map(|(key, var)| Some((key, env(var)?)))
                    .collect(),
            };
            Launch::otelstack(workdir, &config)?
        }
        Kind::Rotel => {
            let p = PipelineSettings { sink, compression: c, batch_size: 8192, batch_timeout_ms: 200 };
            Launch::rotel(workdir, grpc, http, true, &p)
        }
    };
    Collector::spawn(kind, bin, workdir, launch, None)
}
