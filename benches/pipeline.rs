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
#[path = "pipeline/signals.rs"]
#[allow(dead_code)] // the metrics and logs payloads are benches/matrix.rs's
mod signals;
#[path = "pipeline/sink.rs"]
mod sink;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use collector::{Collector, Compression, Kind, PipelineSettings};
use loadgen::{LoadConfig, Mode};
use report::{Failure, RunResult};
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match env(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid number")),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    match env("CARGO_TARGET_DIR") {
        Some(d) => manifest_dir().join(d),
        None => manifest_dir().join("target"),
    }
}

/// `.venv/lib/python3.*/site-packages/rotel/rotel-agent`
fn find_rotel() -> anyhow::Result<PathBuf> {
    let lib = manifest_dir().join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for e in entries.flatten() {
            let p = e.path().join("site-packages/rotel/rotel-agent");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "rotel-agent not found under {}; run scripts/bench.sh (it installs rotel==0.0.1a15 into .venv) or set ROTEL_AGENT",
        lib.display()
    )
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
        let mut collectors = Vec::new();
        for kind in kinds {
            let bin = match kind {
                Kind::Otelstack => env("OTELSTACK_COLLECTOR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| target_dir().join("release/otelstack-collector")),
                Kind::Rotel => match env("ROTEL_AGENT") {
                    Some(p) => PathBuf::from(p),
                    None => find_rotel()?,
                },
            };
            if !bin.is_file() {
                bail!(
                    "{kind} binary {} does not exist{}",
                    bin.display(),
                    if kind == Kind::Otelstack {
                        " (build it with `cargo build --release --bin otelstack-collector`, or run scripts/bench.sh)"
                    } else {
                        ""
                    }
                );
            }
            collectors.push((kind, bin));
        }
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

async fn run_one(
    s: &Settings,
    kind: Kind,
    bin: &Path,
    mode: Mode,
    compression: Compression,
    sink_mode: SinkMode,
    ticks: f64,
) -> anyhow::Result<RunResult> {
    let nonce = fastrand::u16(1..);
    let payloads = Arc::new(payload::Payloads::new(nonce));
    payloads.self_check();
    let sink = sink::Sink::start(nonce, sink_mode).await?;
    let label = format!(
        "{kind}-{}-{}{}",
        compression.as_str(),
        if matches!(mode, Mode::FlatOut) { "flat" } else { "fixed" },
        match sink_mode {
            SinkMode::Fast => "",
            SinkMode::Slow { stall, .. } if stall.is_zero() => "-slowsink",
            SinkMode::Slow { .. } => "-stallsink",
        }
    );
    let settings =
        PipelineSettings { sink: sink.addr(), compression, batch_size: BATCH_SIZE, batch_timeout_ms: BATCH_TIMEOUT_MS };
    let perf_dir = s.out_dir.join("perf");
    let perf_data = perf_dir.join(format!("{label}.perf.data"));
    if s.perf.is_some() {
        std::fs::create_dir_all(&perf_dir)?;
    }
    let mut col = Collector::start(
        kind,
        bin,
        &s.out_dir.join("runs").join(&label),
        &settings,
        s.perf.map(|cg| (perf_data.as_path(), cg)),
    )?;
    let ready = match tokio::task::block_in_place(|| col.wait_ready(Duration::from_secs(30))) {
        Ok(d) => d,
        Err(e) => {
            col.stop();
            sink.stop().await;
            return Err(e);
        }
    };
    // Let start-up settle before the measurement window opens.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let duration = Duration::from_secs_f64(match mode {
        Mode::Fixed { .. } => s.fixed_seconds,
        Mode::FlatOut => s.flat_seconds,
    });
    eprintln!(
        "== {label}: ready in {ready:?}, {} for {duration:?} (pid {}, sink 127.0.0.1:{}, load avg {})",
        match mode {
            Mode::Fixed { spans_per_sec } => format!("{spans_per_sec} spans/s"),
            Mode::FlatOut => "flat out".into(),
        },
        col.pid,
        sink.port,
        loadavg()
    );
    let pid = col.pid;
    let self_pid = std::process::id();
    let rss = procstat::RssSampler::start(pid);
    let cpu0 = procstat::cpu_seconds(pid, ticks)?;
    let harness0 = procstat::cpu_seconds(self_pid, ticks)?;
    let load_start = Instant::now();
    // Rates are taken after a warm-up (connection set-up, first batch).
    let warm_up = Duration::from_secs_f64((duration.as_secs_f64() / 4.0).min(1.0));
    let cfg = LoadConfig {
        target: col.grpc,
        mode,
        duration,
        warm_up,
        connections: s.connections,
        inflight_per_conn: match mode {
            Mode::Fixed { .. } => 64,
            Mode::FlatOut => s.flat_inflight,
        },
    };
    let load = loadgen::run(&cfg, payloads.clone()).await;
    let delivered_at_load_end = sink.state.unique();
    // Drain: wait until every acknowledged span reached the sink, or nothing
    // has arrived for 10 s (batch timeout is 200 ms, so that means loss), or
    // after 120 s at most.
    let target = load.as_ref().map_or(0, |l| l.spans_ok);
    let (mut last, mut last_change) = (sink.state.unique(), Instant::now());
    let drain_start = Instant::now();
    loop {
        let now = sink.state.unique();
        if now >= target || !col.is_running() {
            break;
        }
        if now != last {
            (last, last_change) = (now, Instant::now());
        }
        if last_change.elapsed() > Duration::from_secs(10) || drain_start.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu1 = procstat::cpu_seconds(pid, ticks);
    let harness1 = procstat::cpu_seconds(self_pid, ticks)?;
    let peak = procstat::peak_rss_kib(pid);
    let threads = procstat::threads(pid).unwrap_or(0);
    let avg_rss = rss.finish();
    let running = col.is_running();
    let log = col.log.clone();
    let stopped = tokio::task::block_in_place(|| col.stop());
    let st = sink.state.clone();
    sink.stop().await;
    if s.perf.is_some() {
        match tokio::task::block_in_place(|| profile::report(&perf_data)) {
            Ok(txt) => eprintln!("   perf profile (whole process life): {}", txt.display()),
            Err(e) => eprintln!("   perf report failed: {e:#}"),
        }
    }
    let load = load.with_context(|| format!("load generator against {kind}"))?;
    if !running {
        bail!("{kind} exited during the run ({stopped}); see {}", log.display());
    }
    let (cpu1, peak) = (cpu1?, peak?);
    let delivered = st.unique();
    let stalled = st.stalled.load(Ordering::Relaxed);
    if stalled > 0 {
        eprintln!("   the sink held {stalled} export(s) in its stall window; peak RSS {peak} KiB");
    }
    let load_end = load_start + duration;
    let delivered_rate = st.rate_between(load_start + warm_up, load_end).unwrap_or_else(|| {
        st.last_delivery()
            .map(|t| t.saturating_duration_since(load_start).as_secs_f64())
            .filter(|s| *s > 0.0)
            .map_or(0.0, |s| delivered as f64 / s)
    });
    let tail = st.last_delivery().map_or(Duration::ZERO, |t| t.saturating_duration_since(load_start + load.elapsed));
    let errors = load.errors.iter().map(|(k, v)| format!("{k}: {v} requests")).collect::<Vec<_>>().join(", ");
    let r = RunResult {
        collector: kind,
        compression,
        mode,
        seconds: load.elapsed.as_secs_f64(),
        sent: load.spans_ok,
        sent_rate: load.sustained_rate,
        refused: load.spans_failed + load.spans_rejected,
        errors,
        behind_schedule: load.behind_schedule,
        delivered,
        delivered_rate,
        tail,
        backlog: load.spans_ok.saturating_sub(delivered_at_load_end),
        duplicates: st.duplicates.load(Ordering::Relaxed),
        foreign: st.foreign.load(Ordering::Relaxed),
        cpu_s: cpu1 - cpu0,
        peak_rss_kib: peak,
        avg_rss_kib: avg_rss,
        threads,
        harness_cpu_s: harness1 - harness0,
        sink_requests: st.requests.load(Ordering::Relaxed),
        sink_bytes: st.bytes.load(Ordering::Relaxed),
        sink_wire_bytes: st.wire_bytes.load(Ordering::Relaxed),
        sink_encodings: st
            .encodings
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        stopped,
    };
    eprintln!(
        "   sent {} spans ({}/s), delivered {} ({}/s), lost {}, dup {}, refused {}; collector CPU {:.2} s = {:.2} s per 1M spans; peak RSS {:.1} MiB",
        r.sent,
        report::thousands(r.sent_rate),
        r.delivered,
        report::thousands(r.delivered_rate),
        r.lost(),
        r.duplicates,
        r.refused,
        r.cpu_s,
        r.cpu_per_million(),
        r.peak_rss_mib()
    );
    Ok(r)
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
                    match run_one(&s, *kind, bin, mode, compression, sink_mode, ticks).await {
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
    md.push_str(&report::table(&results));
    let ratios = report::ratios(&results);
    if !ratios.is_empty() {
        md.push('\n');
        md.push_str(&ratios);
    }
    md.push_str("\nCPU-s and RSS are the collector process only (utime+stime over the load and drain; VmHWM); harness CPU-s is the generator and sink (this process) over the same window; export bytes/span is what the collector sent the sink (gRPC message frames, compressed or not) per delivered span. Sent spans/s is the rate of spans the collector acknowledged and delivered spans/s the rate of unique spans arriving at the sink, both from 1 s after the load started to when it stopped (the sink's rate is taken between the first and last export in that window); delivered/sent compares all unique span ids at the sink after the drain with all acknowledged spans.\n\n");
    if let (Some(slow), false) = (s.slow_sink, slow_results.is_empty()) {
        md.push_str(&format!("\n## Slow backend: fixed rate into a {slow}\n\n"));
        md.push_str(&report::table(&slow_results));
        let ratios = report::ratios(&slow_results);
        if !ratios.is_empty() {
            md.push('\n');
            md.push_str(&ratios);
        }
        md.push('\n');
    }
    if let (Some(stall), false) = (s.stall_sink, stall_results.is_empty()) {
        md.push_str(&format!("\n## Slow backend that stalls at first: fixed rate into a {stall}\n\n"));
        md.push_str(&report::table(&stall_results));
        let ratios = report::ratios(&stall_results);
        if !ratios.is_empty() {
            md.push('\n');
            md.push_str(&ratios);
        }
        md.push('\n');
    }
    results.extend(slow_results);
    results.extend(stall_results);
    md.push_str(&report::details(&results, &failures));
    let mut noted = Vec::new();
    for r in &results {
        if noted.contains(&(r.collector, r.compression)) {
            continue;
        }
        let expected = match r.compression {
            Compression::Gzip => "gzip",
            Compression::None => "identity",
        };
        let other: Vec<&str> =
            r.sink_encodings.split(", ").filter(|e| !e.is_empty() && !e.starts_with(&format!("{expected}:"))).collect();
        if !other.is_empty() {
            noted.push((r.collector, r.compression));
            md.push_str(&format!(
                "\n**NOTE: {} was configured with export compression `{}` but the sink received grpc-encoding {}** (so this row is not like for like).\n",
                r.collector,
                r.compression.as_str(),
                other.join(", ")
            ));
        }
    }
    let mut ok = failures.is_empty();
    for r in &results {
        if !r.complete() {
            let msg = format!(
                "{} {} {}: {} lost, {} duplicated, {} refused of {} sent",
                r.collector,
                r.compression.as_str(),
                match r.mode {
                    Mode::Fixed { .. } => "fixed rate",
                    Mode::FlatOut => "flat out",
                },
                r.lost(),
                r.duplicates,
                r.refused,
                r.sent
            );
            md.push_str(&format!("\n**LOSS: {msg}**\n"));
            if matches!(r.mode, Mode::Fixed { .. }) {
                ok = false;
            }
        }
    }
    println!("\n{md}");
    let path = s.out_dir.join("pipeline.md");
    std::fs::write(&path, &md).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("report written to {}", path.display());
    Ok(ok)
}

fn main() {
    // cargo bench passes `--bench` (and maybe a filter); there is nothing to filter.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let code = match rt.block_on(run()) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            2
        }
    };
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code);
}
