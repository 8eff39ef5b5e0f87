//! The markdown report.

use std::fmt::Write as _;

use super::collector::{Compression, Kind};
use super::loadgen::Mode;

pub struct RunResult {
    pub collector: Kind,
    pub compression: Compression,
    pub mode: Mode,
    pub seconds: f64,
    /// Spans acknowledged OK by the collector.
    pub sent: u64,
    pub sent_rate: f64,
    /// Spans refused by the collector (gRPC error or partial success).
    pub refused: u64,
    pub errors: String,
    pub behind_schedule: u64,
    pub delivered: u64,
    /// Sustained delivery rate at the sink while the load ran.
    pub delivered_rate: f64,
    /// Last delivery after the generator stopped.
    pub tail: std::time::Duration,
    /// Spans acknowledged but not yet delivered when the generator stopped.
    pub backlog: u64,
    pub duplicates: u64,
    pub foreign: u64,
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
    pub avg_rss_kib: u64,
    pub threads: u64,
    pub harness_cpu_s: f64,
    pub sink_requests: u64,
    pub sink_bytes: u64,
    pub sink_wire_bytes: u64,
    /// `grpc-encoding: count` of the export requests at the sink.
    pub sink_encodings: String,
    pub stopped: String,
}

impl RunResult {
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.delivered)
    }

    pub fn cpu_per_million(&self) -> f64 {
        if self.delivered == 0 {
            f64::NAN
        } else {
            self.cpu_s / self.delivered as f64 * 1e6
        }
    }

    pub fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    /// Every acknowledged span arrived exactly once, and nothing was refused.
    pub fn complete(&self) -> bool {
        self.lost() == 0 && self.duplicates == 0 && self.foreign == 0 && self.refused == 0 && self.sent > 0
    }
}

/// A failed run: the collector did not start, crashed, or the harness failed.
pub struct Failure {
    pub collector: Kind,
    pub compression: Compression,
    pub mode: Mode,
    pub error: String,
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Fixed { .. } => "fixed rate",
        Mode::FlatOut => "flat out",
    }
}

fn offered(m: Mode) -> String {
    match m {
        Mode::Fixed { spans_per_sec } => thousands(spans_per_sec as f64),
        Mode::FlatOut => "max".into(),
    }
}

pub fn thousands(v: f64) -> String {
    let n = v.round() as i64;
    let digits: Vec<char> = n.unsigned_abs().to_string().chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        let left = digits.len() - i;
        if i > 0 && left.is_multiple_of(3) {
            out.push(',');
        }
        out.push(*c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn pct(delivered: u64, sent: u64) -> String {
    if sent == 0 {
        return "n/a".into();
    }
    let p = delivered as f64 / sent as f64 * 100.0;
    if delivered == sent {
        "100%".into()
    } else {
        format!("{p:.3}%")
    }
}

pub fn table(results: &[RunResult]) -> String {
    let mut s = String::new();
    s.push_str(
        "| collector | export compression | mode | offered spans/s | sent spans/s | delivered spans/s | delivered/sent | lost / dup / refused | collector CPU-s | CPU-s per 1M spans | peak RSS MiB | avg RSS MiB | export bytes/span | harness CPU-s |\n",
    );
    s.push_str("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.0} | {:.2} |",
            r.collector,
            r.compression.as_str(),
            mode_name(r.mode),
            offered(r.mode),
            thousands(r.sent_rate),
            thousands(r.delivered_rate),
            pct(r.delivered, r.sent),
            thousands(r.lost() as f64),
            thousands(r.duplicates as f64),
            thousands(r.refused as f64),
            r.cpu_s,
            r.cpu_per_million(),
            r.peak_rss_mib(),
            r.avg_rss_kib as f64 / 1024.0,
            r.sink_wire_bytes as f64 / r.delivered.max(1) as f64,
            r.harness_cpu_s,
        );
    }
    s
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// otelstack/rotel ratios per (compression, mode), from the medians of the runs.
/// The table and, when both collectors ran, their ratios under it.
pub fn table_and_ratios(results: &[RunResult]) -> String {
    let mut s = table(results);
    let ratios = ratios(results);
    if !ratios.is_empty() {
        s.push('\n');
        s.push_str(&ratios);
    }
    s
}

pub fn ratios(results: &[RunResult]) -> String {
    let mut groups: Vec<(Compression, Mode)> = Vec::new();
    for r in results {
        if !groups.contains(&(r.compression, r.mode)) {
            groups.push((r.compression, r.mode));
        }
    }
    let med = |kind: Kind, c: Compression, m: Mode, f: &dyn Fn(&RunResult) -> f64| {
        median(results.iter().filter(|r| r.collector == kind && r.compression == c && r.mode == m).map(f).collect())
    };
    let mut rows = Vec::new();
    for (c, m) in groups {
        let ratio = |f: &dyn Fn(&RunResult) -> f64| med(Kind::Otelstack, c, m, f) / med(Kind::Rotel, c, m, f);
        let cpu = ratio(&|r| r.cpu_per_million());
        if cpu.is_nan() {
            continue;
        }
        rows.push(format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            c.as_str(),
            mode_name(m),
            cpu,
            ratio(&|r| r.peak_rss_mib()),
            ratio(&|r| r.delivered_rate),
        ));
    }
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "| export compression | mode | CPU per span otelstack/rotel | peak RSS otelstack/rotel | delivered spans/s otelstack/rotel |\n",
    );
    s.push_str("|---|---|--:|--:|--:|\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    s
}

pub fn details(results: &[RunResult], failures: &[Failure]) -> String {
    let mut s = String::new();
    for r in results {
        let _ = writeln!(
            s,
            "- {} / {} / {}: {:.1} s of load; {} spans acknowledged, {} delivered; {} acknowledged but not yet delivered when the load stopped, the last delivered {} ms later ({} sink requests, {:.1} MiB decoded from {:.1} MiB on the wire, grpc-encoding {}); collector threads {}; errors: {}; requests behind schedule: {}; foreign spans: {}; shutdown: {}",
            r.collector,
            r.compression.as_str(),
            mode_name(r.mode),
            r.seconds,
            thousands(r.sent as f64),
            thousands(r.delivered as f64),
            thousands(r.backlog as f64),
            r.tail.as_millis(),
            thousands(r.sink_requests as f64),
            r.sink_bytes as f64 / (1024.0 * 1024.0),
            r.sink_wire_bytes as f64 / (1024.0 * 1024.0),
            r.sink_encodings,
            r.threads,
            if r.errors.is_empty() { "none" } else { &r.errors },
            r.behind_schedule,
            r.foreign,
            r.stopped,
        );
    }
    for f in failures {
        let _ = writeln!(
            s,
            "- FAILED {} / {} / {}: {}",
            f.collector,
            f.compression.as_str(),
            mode_name(f.mode),
            f.error.replace('\n', "\n  ")
        );
    }
    s
}

/// A note for each collector and compression whose exports reached the sink
/// with another grpc-encoding than configured: such rows are not like for like.
pub fn encoding_notes(results: &[RunResult]) -> String {
    let mut s = String::new();
    let mut noted = Vec::new();
    for r in results {
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
            let _ = writeln!(
                s,
                "\n**NOTE: {} was configured with export compression `{}` but the sink received grpc-encoding {}** (so this row is not like for like).",
                r.collector,
                r.compression.as_str(),
                other.join(", ")
            );
        }
    }
    s
}

/// A line for each run that lost, duplicated or refused spans, and whether
/// every fixed-rate run was complete (flat out may refuse what it cannot take).
pub fn losses(results: &[RunResult]) -> (String, bool) {
    let (mut s, mut complete) = (String::new(), true);
    for r in results.iter().filter(|r| !r.complete()) {
        let _ = writeln!(
            s,
            "\n**LOSS: {} {} {}: {} lost, {} duplicated, {} refused of {} sent**",
            r.collector,
            r.compression.as_str(),
            mode_name(r.mode),
            r.lost(),
            r.duplicates,
            r.refused,
            r.sent
        );
        complete &= !matches!(r.mode, Mode::Fixed { .. });
    }
    (s, complete)
}
