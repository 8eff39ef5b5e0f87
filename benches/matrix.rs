//! Every signal and transport side by side with Rotel in one run: traces,
//! metrics and logs, received over OTLP/gRPC, OTLP/HTTP protobuf and (for
//! otelstack alone: Rotel has no JSON receiver) OTLP/HTTP JSON, exported over
//! OTLP/gRPC with gzip or no compression to a sink in this process that counts
//! every item (span, data point, log record) by its id, exactly once.
//!
//! Run with `make bench` (scripts/bench.sh) or `cargo bench --bench matrix`.
//! Knobs (environment):
//! - `BENCH_SIGNALS` (`traces,metrics,logs`), `BENCH_TRANSPORTS`
//!   (`grpc,http-proto,http-json`), `BENCH_COMPRESSION` (`gzip,none`),
//!   `BENCH_MODES` (`fixed,flat`), `BENCH_ONLY` (`otelstack` or `rotel`)
//! - `BENCH_RATE` items/s in fixed-rate mode (50000), `BENCH_MATRIX_SECONDS`
//!   per run (10), `BENCH_REPEAT` runs of each row (1, order alternated)
//! - `BENCH_QUEUE_SIZER`, `BENCH_QUEUE_SIZE`: otelstack's exporter
//!   `sending_queue.sizer` / `queue_size` (otelcol's defaults when unset);
//!   `BENCH_MEMORY_LIMIT_MIB`: a `memory_limiter` with that `limit_mib`
//! - `OTELSTACK_COLLECTOR`, `ROTEL_AGENT` binaries
//!
//! Prints the table and writes it to `target/bench/matrix.md`; exits non-zero
//! if a collector failed or a fixed-rate run lost, duplicated or refused items.

#[path = "pipeline/collector.rs"]
#[allow(dead_code)]
mod collector;
#[path = "pipeline/harness.rs"]
mod harness;
#[path = "pipeline/ids.rs"]
mod ids;
#[path = "matrix/load.rs"]
mod load;
#[path = "pipeline/payload.rs"]
#[allow(dead_code)]
mod payload;
#[path = "matrix/peers.rs"]
mod peers;
#[path = "pipeline/procstat.rs"]
#[allow(dead_code)]
mod procstat;
#[path = "matrix/report.rs"]
mod report;
#[path = "pipeline/signals.rs"]
mod signals;
#[path = "pipeline/sink.rs"]
#[allow(dead_code)]
mod sink;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use collector::{Compression, Kind};
use harness::{collector_bin, env, env_num, target_dir};
use load::{LoadConfig, Mode, Transport};
use otelstack::signal::Signal;
use report::Row;
use signals::{Encoding, Items};

fn list<T>(name: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> anyhow::Result<Vec<T>> {
    env(name)
        .unwrap_or_else(|| default.into())
        .split(',')
        .map(|v| parse(v.trim()).ok_or_else(|| anyhow::anyhow!("{name}: unknown value {v:?} (choose from {default})")))
        .collect()
}

struct Settings {
    signals: Vec<Signal>,
    transports: Vec<Transport>,
    compressions: Vec<Compression>,
    modes: Vec<Mode>,
    collectors: Vec<(Kind, PathBuf)>,
    seconds: f64,
    repeat: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let rate = env_num("BENCH_RATE", 50_000u64)?.max(100);
        let kinds = list("BENCH_ONLY", "otelstack,rotel", |v| match v {
            "otelstack" => Some(Kind::Otelstack),
            "rotel" => Some(Kind::Rotel),
            _ => None,
        })?;
        let collectors = kinds.into_iter().map(|k| Ok((k, collector_bin(k)?))).collect::<anyhow::Result<_>>()?;
        Ok(Settings {
            signals: list("BENCH_SIGNALS", "traces,metrics,logs", Signal::parse)?,
            transports: list("BENCH_TRANSPORTS", "grpc,http-proto,http-json", |v| match v {
                "grpc" => Some(Transport::Grpc),
                "http-proto" => Some(Transport::HttpProto),
                "http-json" => Some(Transport::HttpJson),
                _ => None,
            })?,
            compressions: list("BENCH_COMPRESSION", "gzip,none", |v| match v {
                "gzip" => Some(Compression::Gzip),
                "none" => Some(Compression::None),
                _ => None,
            })?,
            modes: list("BENCH_MODES", "fixed,flat", |v| match v {
                "fixed" => Some(Mode::Fixed { items_per_sec: rate }),
                "flat" => Some(Mode::FlatOut),
                _ => None,
            })?,
            collectors,
            seconds: env_num("BENCH_MATRIX_SECONDS", 10.0)?,
            repeat: env_num("BENCH_REPEAT", 1usize)?.max(1),
        })
    }
}

struct Case {
    signal: Signal,
    transport: Transport,
    compression: Compression,
    mode: Mode,
}

async fn run_one(s: &Settings, kind: Kind, bin: &std::path::Path, c: &Case, ticks: f64) -> anyhow::Result<Row> {
    let nonce = fastrand::u16(1..);
    let encoding = if c.transport == Transport::HttpJson { Encoding::Json } else { Encoding::Proto };
    let items = Arc::new(Items::new(c.signal, encoding, nonce));
    items.self_check(c.signal, encoding);
    let request_bytes = items.avg_request_bytes();
    let sink = sink::Sink::start(nonce, sink::SinkMode::Fast).await?;
    let label = format!(
        "{kind}-{}-{}-{}-{}",
        c.signal.as_str(),
        c.transport.as_str().replace('/', "-"),
        c.compression.as_str(),
        if c.mode == Mode::FlatOut { "flat" } else { "fixed" }
    );
    let mut peer =
        peers::start(kind, bin, &target_dir().join("bench/matrix").join(&label), sink.addr(), c.compression)?;
    if let Err(e) = tokio::task::block_in_place(|| peer.wait_ready(Duration::from_secs(30))) {
        peer.stop();
        sink.stop().await;
        return Err(e);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = peer.pid;
    let cpu0 = procstat::cpu_seconds(pid, ticks)?;
    let harness0 = procstat::cpu_seconds(std::process::id(), ticks)?;
    let cfg = LoadConfig {
        signal: c.signal,
        transport: c.transport,
        grpc: peer.grpc,
        http: peer.http.expect("the matrix starts every collector with an HTTP receiver"),
        mode: c.mode,
        duration: Duration::from_secs_f64(s.seconds),
        connections: 4,
        inflight: if c.mode == Mode::FlatOut { 8 } else { 64 },
    };
    let load = load::run(&cfg, items).await;
    // Drain: every acknowledged item at the sink, or 10 s without progress.
    let target = load.as_ref().map_or(0, |l| l.items_ok);
    let load_end = Instant::now();
    let (mut last, mut last_change) = (sink.state.unique(), load_end);
    while sink.state.unique() < target && peer.is_running() && last_change.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if sink.state.unique() != last {
            (last, last_change) = (sink.state.unique(), Instant::now());
        }
    }
    let cpu1 = procstat::cpu_seconds(pid, ticks);
    let harness1 = procstat::cpu_seconds(std::process::id(), ticks)?;
    let peak = procstat::peak_rss_kib(pid);
    let running = peer.is_running();
    let log = peer.log.clone();
    let stopped = tokio::task::block_in_place(|| peer.stop());
    let st = sink.state.clone();
    sink.stop().await;
    let load = load.with_context(|| format!("load generator against {kind}"))?;
    if !running {
        bail!("{kind} exited during the run ({stopped}); see {}", log.display());
    }
    let encodings = st.encodings.lock().unwrap().keys().cloned().collect::<Vec<_>>().join(",");
    let row = Row {
        collector: kind,
        signal: c.signal,
        transport: c.transport,
        compression: c.compression,
        mode: c.mode,
        sent: load.items_ok,
        refused: load.items_failed + load.items_rejected,
        errors: load.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
        delivered: st.unique(),
        duplicates: st.duplicates.load(Ordering::Relaxed),
        foreign: st.foreign.load(Ordering::Relaxed),
        seconds: load.elapsed.as_secs_f64(),
        drain_seconds: (last_change - load_end).as_secs_f64(),
        cpu_s: cpu1? - cpu0,
        peak_rss_kib: peak?,
        harness_cpu_s: harness1 - harness0,
        behind: load.behind_schedule,
        encodings,
    };
    eprintln!(
        "   {label} ({request_bytes} B requests): sent {} delivered {} (dup {}, refused {}), {:.2} CPU-s per 1M items, peak RSS {:.1} MiB, drained {:.1} s after the load, harness {:.1} CPU-s{}",
        row.sent,
        row.delivered,
        row.duplicates,
        row.refused,
        row.cpu_per_million(),
        row.peak_rss_kib as f64 / 1024.0,
        row.drain_seconds,
        row.harness_cpu_s,
        if row.errors.is_empty() { String::new() } else { format!(", errors: {}", row.errors) }
    );
    Ok(row)
}

async fn run() -> anyhow::Result<bool> {
    let s = Settings::from_env()?;
    let ticks = procstat::clock_ticks();
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for rep in 0..s.repeat {
        for &signal in &s.signals {
            for &transport in &s.transports {
                for &compression in &s.compressions {
                    for &mode in &s.modes {
                        let case = Case { signal, transport, compression, mode };
                        let mut order: Vec<&(Kind, PathBuf)> = s.collectors.iter().collect();
                        if rep % 2 == 1 {
                            order.reverse();
                        }
                        for (kind, bin) in order {
                            if *kind == Kind::Rotel && transport == Transport::HttpJson {
                                continue; // Rotel's HTTP receiver takes protobuf only
                            }
                            match run_one(&s, *kind, bin, &case, ticks).await {
                                Ok(r) => rows.push(r),
                                Err(e) => {
                                    let what = format!(
                                        "{kind} {} {} {} {mode:?}",
                                        signal.as_str(),
                                        transport.as_str(),
                                        compression.as_str()
                                    );
                                    eprintln!("!! {what}: {e:#}");
                                    failures.push(format!("{what}: {e:#}"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let mut md = String::from("# Signal x transport matrix: otelstack-collector and Rotel\n\n");
    md.push_str(&format!(
        "{} CPUs, load average before {}, after {}; {} s per run, {} run(s) of each; requests of 100 items, uncompressed from the generator; batch 8192 / 200 ms; export OTLP/gRPC to an in-process sink.\n\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        s.seconds,
        s.repeat
    ));
    md.push_str(&report::table(&rows));
    md.push_str(&report::notes(&rows));
    let mut ok = failures.is_empty();
    for f in &failures {
        md.push_str(&format!("\n**FAILED: {f}**\n"));
    }
    for r in rows.iter().filter(|r| !r.complete()) {
        md.push_str(&format!("\n**LOSS: {}**\n", r.describe_loss()));
        ok &= r.mode == Mode::FlatOut;
    }
    println!("\n{md}");
    let path = target_dir().join("bench/matrix.md");
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(&path, &md)?;
    eprintln!("report written to {}", path.display());
    Ok(ok)
}

fn main() {
    // reqwest (the HTTP generator) is built without a default crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    harness::main(run())
}
