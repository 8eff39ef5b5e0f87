//! The matrix's markdown table: one line per signal, transport, export
//! compression and collector, with the fixed-rate CPU and memory, the
//! flat-out rate, and otelstack's ratios to Rotel on the same row.

use std::fmt::Write as _;

use otelstack::signal::Signal;

use crate::collector::{Compression, Kind};
use crate::load::{Mode, Transport};

pub struct Row {
    pub collector: Kind,
    pub signal: Signal,
    pub transport: Transport,
    pub compression: Compression,
    pub mode: Mode,
    /// Items acknowledged by the collector.
    pub sent: u64,
    pub refused: u64,
    pub errors: String,
    /// Unique items at the sink.
    pub delivered: u64,
    pub duplicates: u64,
    pub foreign: u64,
    /// Seconds of load.
    pub seconds: f64,
    /// Seconds from the end of the load until the last item reached the sink.
    pub drain_seconds: f64,
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
    pub harness_cpu_s: f64,
    pub behind: u64,
    /// grpc-encodings the sink received.
    pub encodings: String,
}

impl Row {
    pub fn cpu_per_million(&self) -> f64 {
        if self.delivered == 0 {
            f64::NAN
        } else {
            self.cpu_s / self.delivered as f64 * 1e6
        }
    }

    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.delivered)
    }

    pub fn complete(&self) -> bool {
        self.sent > 0 && self.lost() == 0 && self.duplicates == 0 && self.foreign == 0 && self.refused == 0
    }

    pub fn describe_loss(&self) -> String {
        format!(
            "{} {} {} {} {:?}: {} lost, {} duplicated, {} foreign, {} refused of {} sent{}",
            self.collector,
            self.signal.as_str(),
            self.transport.as_str(),
            self.compression.as_str(),
            self.mode,
            self.lost(),
            self.duplicates,
            self.foreign,
            self.refused,
            self.sent,
            if self.errors.is_empty() { String::new() } else { format!(" ({})", self.errors) }
        )
    }

    fn same_case(&self, o: &Row) -> bool {
        self.signal == o.signal && self.transport == o.transport && self.compression == o.compression
    }
}

/// Median of the values, NaN when there are none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Medians of one collector on one case: (CPU-s per 1M at fixed rate, peak RSS
/// MiB at fixed rate, flat-out delivered items/s, peak RSS MiB flat out).
/// The flat-out rate is end to end: items at the sink over the time from the
/// start of the load to the last item's arrival, so what a collector queues
/// during the load and delivers after it does not count as throughput.
fn medians(rows: &[&Row]) -> [f64; 4] {
    let pick = |flat: bool, f: &dyn Fn(&Row) -> f64| {
        median(rows.iter().filter(|r| (r.mode == Mode::FlatOut) == flat).map(|r| f(r)).collect())
    };
    [
        pick(false, &|r| r.cpu_per_million()),
        pick(false, &|r| r.peak_rss_kib as f64 / 1024.0),
        pick(true, &|r| r.delivered as f64 / (r.seconds + r.drain_seconds)),
        pick(true, &|r| r.peak_rss_kib as f64 / 1024.0),
    ]
}

fn num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "–".into()
    } else {
        format!("{v:.digits$}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a.is_nan() || b.is_nan() || b == 0.0 {
        "–".into()
    } else {
        format!("{:.2}", a / b)
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| signal | receiver transport | export compression | collector | CPU-s per 1M items (fixed rate) | peak RSS MiB (fixed rate) | flat-out items/s (end to end) | peak RSS MiB (flat out) | lost / dup / refused | CPU ÷ Rotel | RSS ÷ Rotel (fixed, flat) | rate ÷ Rotel |\n|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let mut cases: Vec<&Row> = Vec::new();
    for r in rows {
        if !cases.iter().any(|c| c.same_case(r) && c.collector == r.collector) {
            cases.push(r);
        }
    }
    for c in cases {
        let of = |k: Kind| rows.iter().filter(|r| r.same_case(c) && r.collector == k).collect::<Vec<_>>();
        let mine = of(c.collector);
        let m = medians(&mine);
        let (lost, dup, refused) =
            mine.iter().fold((0, 0, 0), |(l, d, f), r| (l + r.lost(), d + r.duplicates + r.foreign, f + r.refused));
        let vs = if c.collector == Kind::Otelstack && !of(Kind::Rotel).is_empty() {
            let r = medians(&of(Kind::Rotel));
            [ratio(m[0], r[0]), format!("{}, {}", ratio(m[1], r[1]), ratio(m[3], r[3])), ratio(m[2], r[2])]
        } else {
            ["".into(), "".into(), "".into()]
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {lost} / {dup} / {refused} | {} | {} | {} |",
            c.signal.as_str(),
            c.transport.as_str(),
            c.compression.as_str(),
            c.collector,
            num(m[0], 2),
            num(m[1], 1),
            num(m[2], 0),
            num(m[3], 1),
            vs[0],
            vs[1],
            vs[2]
        );
    }
    s
}

/// What the reader needs beside the table: harness cost, the encodings that
/// arrived where they differ from the configured compression, errors.
pub fn notes(rows: &[Row]) -> String {
    let mut s = String::from("\n");
    let harness = median(rows.iter().map(|r| r.harness_cpu_s / r.seconds).collect());
    let _ = writeln!(s, "Harness (generator + sink) CPU, median over runs: {harness:.2} CPU-s per second of load.");
    let mut seen = Vec::new();
    for r in rows {
        let expected = if r.compression == Compression::Gzip { "gzip" } else { "identity" };
        if !r.encodings.is_empty() && r.encodings != expected && !seen.contains(&(r.collector, r.compression)) {
            seen.push((r.collector, r.compression));
            let _ = writeln!(
                s,
                "\nNote: {} was configured with export compression `{}` but the sink received grpc-encoding `{}`.",
                r.collector,
                r.compression.as_str(),
                r.encodings
            );
        }
    }
    let behind: u64 = rows.iter().map(|r| r.behind).sum();
    if behind > 0 {
        let _ =
            writeln!(s, "\n{behind} fixed-rate requests were sent behind schedule (64 outstanding per connection).");
    }
    s
}
