//! Exposition of the store: the Prometheus text format 0.0.4, or OpenMetrics
//! 1.0 (with exemplars on counters and histogram buckets, timestamps in
//! seconds and the closing `# EOF`) when the scraper asks for it and
//! `enable_open_metrics` is on. Written straight into one buffer: a scrape
//! of 100k series must stay well under a second (`benches/scrape.rs`).

use std::fmt::Write;

use super::store::{Exemplar, Kind, Store, Value};

/// Which exposition format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

fn escape_into(out: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn float_into(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

fn labels_into(out: &mut String, base: &[(String, String)], extra: Option<(&str, &str)>) {
    if base.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in base.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(k);
        out.push_str("=\"");
        escape_into(out, v);
        out.push('"');
    }
    out.push('}');
}

struct Writer {
    out: String,
    format: Format,
    /// the point's timestamp, already formatted with its leading space
    ts: String,
}

impl Writer {
    fn sample(&mut self, name: &str, suffix: &str, ls: &[(String, String)], extra: Option<(&str, &str)>) {
        self.out.push_str(name);
        self.out.push_str(suffix);
        labels_into(&mut self.out, ls, extra);
        self.out.push(' ');
    }

    /// The `_sum` and `_count` lines that close a histogram or a summary.
    fn sum_count(&mut self, name: &str, ls: &[(String, String)], sum: f64, count: u64) {
        self.sample(name, "_sum", ls, None);
        float_into(&mut self.out, sum);
        self.end(None);
        self.sample(name, "_count", ls, None);
        let _ = write!(self.out, "{count}");
        self.end(None);
    }

    /// Ends a sample line: timestamp, then the exemplar (OpenMetrics only).
    fn end(&mut self, exemplar: Option<&Exemplar>) {
        self.out.push_str(&self.ts);
        if let (Format::OpenMetrics, Some(e)) = (self.format, exemplar) {
            let _ = write!(self.out, " # {{trace_id=\"{}\",span_id=\"{}\"}} ", e.trace_id, e.span_id);
            float_into(&mut self.out, e.value);
            let _ = write!(self.out, " {}.{:09}", e.time_unix_nano / 1_000_000_000, e.time_unix_nano % 1_000_000_000);
        }
        self.out.push('\n');
    }
}

/// The Prometheus text format; `timestamps` appends each point's time in ms.
pub fn text(store: &Store, timestamps: bool) -> String {
    render(store, timestamps, Format::Text)
}

pub fn render(store: &Store, timestamps: bool, format: Format) -> String {
    let series: usize = store.families.values().map(|f| f.series.len()).sum();
    let mut w = Writer { out: String::with_capacity(64 + series * 160), format, ts: String::new() };
    if !store.targets.is_empty() {
        w.out.push_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n");
        for (key, (info, _)) in &store.targets {
            let mut all = key.clone();
            all.extend(info.iter().cloned());
            all.sort();
            w.sample("target_info", "", &all, None);
            w.out.push_str("1\n");
        }
    }
    for (name, family) in &store.families {
        // OpenMetrics names a counter family without `_total`, which each
        // sample then carries; a counter whose name lacks it stays `unknown`
        let (family_name, sample_suffix, type_name) = match (format, family.kind) {
            (Format::OpenMetrics, Kind::Counter) => match name.strip_suffix("_total") {
                Some(base) => (base, "_total", "counter"),
                None => (name.as_str(), "", "unknown"),
            },
            (_, kind) => (name.as_str(), "", kind.as_str()),
        };
        let help = if family.help.is_empty() { name.as_str() } else { family.help.as_str() };
        let _ = writeln!(w.out, "# HELP {family_name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(w.out, "# TYPE {family_name} {type_name}");
        for (ls, series) in &family.series {
            w.ts.clear();
            if timestamps {
                let ms = series.timestamp_ms;
                let _ = match format {
                    Format::Text => write!(w.ts, " {ms}"),
                    Format::OpenMetrics => write!(w.ts, " {}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000)),
                };
            }
            let exemplar = |i: usize| series.exemplars.get(i).and_then(Option::as_ref);
            match (&series.value, family.kind) {
                (Value::Number(v), Kind::Gauge | Kind::Counter) => {
                    w.sample(family_name, sample_suffix, ls, None);
                    float_into(&mut w.out, *v);
                    w.end(exemplar(0));
                }
                (Value::Histogram { bounds, counts, sum, count }, _) => {
                    let mut cumulative = 0u64;
                    let mut le = String::new();
                    for (i, bound) in bounds.iter().enumerate() {
                        cumulative += counts.get(i).copied().unwrap_or(0);
                        le.clear();
                        float_into(&mut le, *bound);
                        w.sample(name, "_bucket", ls, Some(("le", &le)));
                        let _ = write!(w.out, "{cumulative}");
                        w.end(exemplar(i));
                    }
                    w.sample(name, "_bucket", ls, Some(("le", "+Inf")));
                    let _ = write!(w.out, "{count}");
                    w.end(exemplar(bounds.len()));
                    w.sum_count(name, ls, *sum, *count);
                }
                (Value::Summary { quantiles, sum, count }, _) => {
                    let mut q = String::new();
                    for (quantile, v) in quantiles {
                        q.clear();
                        float_into(&mut q, *quantile);
                        w.sample(name, "", ls, Some(("quantile", &q)));
                        float_into(&mut w.out, *v);
                        w.end(None);
                    }
                    w.sum_count(name, ls, *sum, *count);
                }
                _ => {}
            }
        }
    }
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}
