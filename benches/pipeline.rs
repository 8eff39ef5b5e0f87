//! Side-by-side load test of `otlp receiver (gRPC) -> batch -> otlp exporter (gRPC)`
//! for otelstack-collector and Rotel, each run as its own process, feeding a
//! sink inside this process that checks every span arrived exactly once.
//!
//! Run with `make bench`, `scripts/bench.sh` or `cargo bench --bench pipeline`.
//! Knobs (environment):
//! - `BENCH_RATE` spans/s offered in fixed-rate mode (50000)
//! - `BENCH_SECONDS` fixed-rate duration (20); `BENCH_FLAT_SECONDS` flat-out
//!   duration (15, or `BENCH_SECONDS` when only that is set)
//! - `BENCH_MODES` `fixed`, `flat` or `fixed,flat` (default)
//! - `BENCH_ONLY` `otelstack` or `rotel` (default: both)
//! - `BENCH_COMPRESSION` exporter compression: `gzip` (default), `none`, or `gzip,none`
//! - `BENCH_CONNECTIONS` generator connections (4)
//! - `BENCH_FLAT_INFLIGHT` requests outstanding per connection in flat-out mode (16)
//! - `BENCH_REPEAT` runs of each configuration (1); ratios use the medians
//! - `BENCH_SLOW` `1` (default) or `0`: also run fixed rate into the slow
//!   sink (full decode, `BENCH_SINK_DELAY_MS` 30, `BENCH_SINK_CONCURRENCY` 1)
//! - `BENCH_SINK_STALL_MS` (1500; `0` turns it off): with `BENCH_SLOW`, also
//!   run the slow sink holding every export of its first N ms unanswered
//! - `BENCH_PERF` `1` or `callgraph`: run the collector under `perf record`,
//!   data and a flat report in `target/bench/perf/` (perturbs the numbers)
//! - `OTELSTACK_COLLECTOR` binary (default `target/release/otelstack-collector`)
//! - `ROTEL_AGENT` binary (default: `rotel/rotel-agent` in the repo's `.venv`)
//!
//! Writes the report to stdout and `target/bench/pipeline.md`; exits non-zero if
//! a collector failed to run or a fixed-rate run lost, duplicated or refused spans.

#[path = "pipeline/collector.rs"]
mod collector;
#[path = "pipeline/harness.rs"]
mod harness;
#[path = "pipeline/ids.rs"]
mod ids;
#[path = "pipeline/loadgen.rs"]
mod loadgen;
#[path = "pipeline/payload.rs"]
mod payload;
#[path = "pipeline/procstat.rs"]
mod procstat;
#[path = "pipeline/profile.rs"]
mod profile;
#[path = "pipeline/report.rs"]
mod report;
#[path = "pipeline/run.rs"]
mod run;
#[path = "pipeline/signals.rs"]
#[allow(dead_code)] // the metrics and logs payloads are benches/matrix.rs's
mod signals;
#[path = "pipeline/sink.rs"]
mod sink;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};

use collector::{Compression, Kind};
use harness::{collector_bin, env, env_num, target_dir};
use loadgen::Mode;
use report::Failure;
use sink::SinkMode;

const BATCH_SIZE: u32 = 8192;
const BATCH_TIMEOUT_MS: u32 = 200;

struct Settings {
    rate: u64,
    fixed_seconds: f64,
    flat_seconds: f64,
    modes: Vec<Mode>,
    collectors: Vec<(Kind, PathBuf)>,
    compressions: Vec<Compression>,
    connections: usize,
    repeat: usize,
    flat_inflight: usize,
    /// The slow-backend scenario (fixed rate into a slow sink), if run.
    slow_sink: Option<SinkMode>,
    /// The same slow sink stalling at first, if run.
    stall_sink: Option<SinkMode>,
    /// `Some(call graphs?)` to run `perf record` on the collector.
    perf: Option<bool>,
    out_dir: PathBuf,
}

impl Settings {
    fn from_env() -> anyhow::Result<Settings> {
        let rate = env_num("BENCH_RATE", 50_000u64)?;
        if rate < 100 {
            bail!("BENCH_RATE must be at least 100 spans/s");
        }
        let seconds: Option<f64> = env("BENCH_SECONDS").map(|_| env_num("BENCH_SECONDS", 20.0)).transpose()?;
        let fixed_seconds = seconds.unwrap_or(20.0);
        let flat_seconds = env_num("BENCH_FLAT_SECONDS", seconds.unwrap_or(15.0))?;
        let mut modes = Vec::new();
        for m in env("BENCH_MODES").unwrap_or_else(|| "fixed,flat".into()).split(',') {
            match m.trim() {
                "fixed" => modes.push(Mode::Fixed { spans_per_sec: rate }),
                "flat" => modes.push(Mode::FlatOut),
                other => bail!("BENCH_MODES: unknown mode {other:?} (fixed, flat)"),
            }
        }
        let mut compressions = Vec::new();
        for c in env("BENCH_COMPRESSION").unwrap_or_else(|| "gzip".into()).split(',') {
            match c.trim() {
                "gzip" => compressions.push(Compression::Gzip),
                "none" => compressions.push(Compression::None),
                other => bail!("BENCH_COMPRESSION: unknown value {other:?} (gzip, none)"),
            }
        }
        let kinds = match env("BENCH_ONLY").as_deref().map(str::trim) {
            None => vec![Kind::Otelstack, Kind::Rotel],
            Some("otelstack") => vec![Kind::Otelstack],
            Some("rotel") => vec![Kind::Rotel],
            Some(other) => bail!("BENCH_ONLY: unknown collector {other:?} (otelstack, rotel)"),
        };
        let collectors = kinds.into_iter().map(|k| Ok((k, collector_bin(k)?))).collect::<anyhow::Result<_>>()?;
        let slow_sink = match env("BENCH_SLOW").as_deref().map(str::trim) {
            Some("0") => None,
            _ => Some(SinkMode::Slow {
                delay: Duration::from_millis(env_num("BENCH_SINK_DELAY_MS", 30u64)?),
                concurrency: env_num("BENCH_SINK_CONCURRENCY", 1usize)?.max(1),
                stall: Duration::ZERO,
            }),
        };
        let stall_sink = match (slow_sink, env_num("BENCH_SINK_STALL_MS", 1500u64)?) {
            (Some(SinkMode::Slow { delay, concurrency, .. }), ms) if ms > 0 => {
                Some(SinkMode::Slow { delay, concurrency, stall: Duration::from_millis(ms) })
            }
            _ => None,
        };
        Ok(Settings {
            rate,
            fixed_seconds,
            flat_seconds,
            modes,
            collectors,
            compressions,
            connections: env_num("BENCH_CONNECTIONS", 4usize)?.max(1),
            repeat: env_num("BENCH_REPEAT", 1usize)?.max(1),
            flat_inflight: env_num("BENCH_FLAT_INFLIGHT", 16usize)?.max(1),
            slow_sink,
            stall_sink,
            perf: match env("BENCH_PERF").as_deref().map(str::trim) {
                None | Some("0") => None,
                Some("callgraph") => Some(true),
                Some(_) => Some(false),
            },
            out_dir: target_dir().join("bench"),
        })
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string()))
        })
        .unwrap_or_else(|| "unknown".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn binary_version(kind: Kind, bin: &Path) -> String {
    let out = std::process::Command::new(bin).arg("--version").output();
    let v = out
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown version".into());
    match kind {
        // The package's own version; the binary reports an older internal one.
        Kind::Rotel => format!("{v} (pip rotel==0.0.1a15)"),
        Kind::Otelstack => v,
    }
}

async fn run() -> anyhow::Result<bool> {
    let s = Settings::from_env()?;
    std::fs::create_dir_all(&s.out_dir)?;
    let ticks = procstat::clock_ticks();
    let started = std::time::SystemTime::now();
    let load_before = loadavg();
    let mut results = Vec::new();
    let mut failures = Vec::new();
    // (sink, mode) scenarios; the slow-backend runs are reported in a table of their own
    let mut scenarios: Vec<(SinkMode, Mode)> = s.modes.iter().map(|&m| (SinkMode::Fast, m)).collect();
    if let Some(slow) = s.slow_sink {
        scenarios.push((slow, Mode::Fixed { spans_per_sec: s.rate }));
    }
    if let Some(stall) = s.stall_sink {
        scenarios.push((stall, Mode::Fixed { spans_per_sec: s.rate }));
    }
    let mut slow_results = Vec::new();
    let mut stall_results = Vec::new();
    for rep in 0..s.repeat {
        for &compression in &s.compressions {
            for &(sink_mode, mode) in &scenarios {
                // Alternate which collector goes first so slow drift of the
                // shared machine does not always favour the same one.
                let mut order: Vec<&(Kind, PathBuf)> = s.collectors.iter().collect();
                if rep % 2 == 1 {
                    order.reverse();
                }
                for (kind, bin) in order {
                    match run::run_one(&s, *kind, bin, mode, compression, sink_mode, ticks).await {
                        Ok(r) if Some(sink_mode) == s.stall_sink => stall_results.push(r),
                        Ok(r) if sink_mode != SinkMode::Fast => slow_results.push(r),
                        Ok(r) => results.push(r),
                        Err(e) => {
                            eprintln!("!! {kind} {} {mode:?}: {e:#}", compression.as_str());
                            failures.push(Failure { collector: *kind, compression, mode, error: format!("{e:#}") });
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    let mut md = String::new();
    md.push_str("# Pipeline benchmark: otlp (gRPC) -> batch -> otlp (gRPC)\n\n");
    md.push_str(&format!(
        "Run at {} s since the Unix epoch on {} CPUs ({}); load average before {}, after {}.\n",
        started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        load_before,
        loadavg()
    ));
    md.push_str(&format!(
        "Requests of 100 spans (10 attributes each), ~{} bytes encoded, uncompressed from the generator, over {} connections (flat out: {} requests outstanding per connection); batch {} spans / {} ms; fixed rate {} spans/s for {} s, flat out for {} s; {} run(s) of each.\n\n",
        payload::Payloads::new(1).avg_request_bytes(),
        s.connections,
        s.flat_inflight,
        BATCH_SIZE,
        BATCH_TIMEOUT_MS,
        report::thousands(s.rate as f64),
        s.fixed_seconds,
        s.flat_seconds,
        s.repeat,
    ));
    for (kind, bin) in &s.collectors {
        md.push_str(&format!("- {kind}: `{}` ({})\n", bin.display(), binary_version(*kind, bin)));
    }
    md.push('\n');
    md.push_str(&report::table_and_ratios(&results));
    md.push_str("\nCPU-s and RSS are the collector process only (utime+stime over the load and drain; VmHWM); harness CPU-s is the generator and sink (this process) over the same window; export bytes/span is what the collector sent the sink (gRPC message frames, compressed or not) per delivered span. Sent spans/s is the rate of spans the collector acknowledged and delivered spans/s the rate of unique spans arriving at the sink, both from 1 s after the load started to when it stopped (the sink's rate is taken between the first and last export in that window); delivered/sent compares all unique span ids at the sink after the drain with all acknowledged spans.\n\n");
    if let (Some(slow), false) = (s.slow_sink, slow_results.is_empty()) {
        md.push_str(&format!("\n## Slow backend: fixed rate into a {slow}\n\n"));
        md.push_str(&report::table_and_ratios(&slow_results));
        md.push('\n');
    }
    if let (Some(stall), false) = (s.stall_sink, stall_results.is_empty()) {
        md.push_str(&format!("\n## Slow backend that stalls at first: fixed rate into a {stall}\n\n"));
        md.push_str(&report::table_and_ratios(&stall_results));
        md.push('\n');
    }
    results.extend(slow_results);
    results.extend(stall_results);
    md.push_str(&report::details(&results, &failures));
    md.push_str(&report::encoding_notes(&results));
    let (losses, complete) = report::losses(&results);
    md.push_str(&losses);
    let ok = failures.is_empty() && complete;
    println!("\n{md}");
    let path = s.out_dir.join("pipeline.md");
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(ok)
}

fn main() {
    harness::main(run())
}
