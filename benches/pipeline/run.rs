//! One run of the pipeline bench: a sink, one collector in front of it, the
//! load for the run's duration, the drain until every acknowledged span
//! arrived, and the collector's CPU, memory and the sink's counts as a
//! [`RunResult`].

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::collector::{Collector, Compression, Kind, PipelineSettings};
use crate::loadgen::{self, LoadConfig, Mode};
use crate::report::{self, RunResult};
use crate::sink::{self, SinkMode};
use crate::{loadavg, payload, procstat, profile, Settings, BATCH_SIZE, BATCH_TIMEOUT_MS};

pub async fn run_one(
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
    drain(&sink, &mut col, load.as_ref().map_or(0, |l| l.spans_ok)).await;
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

/// Waits until every acknowledged span (`target`) reached the sink, or
/// nothing has arrived for 10 s (batch timeout is 200 ms, so that means
/// loss), or 120 s at most.
async fn drain(sink: &sink::Sink, col: &mut Collector, target: u64) {
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
}
