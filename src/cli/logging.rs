//! The collector's own log output, set up from `service.telemetry.logs` as
//! otelcol sets up zap: level, `console` or `json` encoding, every line to
//! each of `output_paths` (stdout, stderr, files), the logger's own failures
//! to `error_output_paths`, `initial_fields` on every line, file:line unless
//! `disable_caller`, and zap's sampler when `sampling.enabled`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::config::{LogSampling, LogsTelemetry};
use crate::runtime::Output;

/// Installs the global subscriber. `OTELSTACK_LOG` overrides the level
/// (an `EnvFilter` directive). Fails when an output file cannot be opened.
pub fn init(cfg: &LogsTelemetry) -> Result<(), String> {
    subscriber(cfg)?.try_init().map_err(|e| format!("cannot set up logging: {e}"))
}

fn subscriber(cfg: &LogsTelemetry) -> Result<impl Subscriber + Send + Sync + 'static, String> {
    let outputs = Outputs::open(&cfg.output_paths, &cfg.error_output_paths)?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("OTELSTACK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(cfg.level.to_ascii_lowercase()));
    let ansi = cfg.initial_fields.is_empty()
        && cfg.output_paths.iter().all(|p| p == "stderr")
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let json = cfg.encoding == "json";
    let caller = !cfg.disable_caller;
    let fields = render_fields(&cfg.initial_fields, json);
    let layer = tracing_subscriber::fmt::layer().with_writer(outputs).with_ansi(ansi);
    let layer = if json {
        let inner = format().json().with_file(caller).with_line_number(caller);
        layer.fmt_fields(format::JsonFields::new()).event_format(WithFields { inner, json, fields }).boxed()
    } else {
        let inner = format().with_file(caller).with_line_number(caller);
        layer.event_format(WithFields { inner, json, fields }).boxed()
    };
    let sampler = cfg.sampling.enabled.then(|| Sampler::new(&cfg.sampling));
    Ok(tracing_subscriber::registry().with(layer).with(filter).with(sampler))
}

fn format() -> format::Format {
    format::format()
}

/// `initial_fields` rendered once: `"k":v` pairs for JSON, `k=v` for console.
fn render_fields(fields: &std::collections::BTreeMap<String, serde_json::Value>, json: bool) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        let sep = if out.is_empty() {
            ""
        } else if json {
            ","
        } else {
            " "
        };
        if json {
            let _ = write!(out, "{sep}{}:{v}", serde_json::Value::String(k.clone()));
        } else {
            let v = v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string());
            let _ = write!(out, "{sep}{k}={v}");
        }
    }
    out
}

/// The formatter otelcol's encoders amount to, plus `initial_fields`.
struct WithFields<F> {
    inner: F,
    json: bool,
    fields: String,
}

impl<S, N, F> FormatEvent<S, N> for WithFields<F>
where
    F: FormatEvent<S, N>,
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> std::fmt::Result {
        if self.fields.is_empty() {
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        match line.strip_prefix('{').filter(|_| self.json) {
            Some(rest) => writeln!(writer, "{{{},{rest}", self.fields),
            None => writeln!(writer, "{line} {}", self.fields),
        }
    }
}

/// Every output path, and where the logger's own failures go.
#[derive(Clone)]
pub struct Outputs(Arc<(Vec<Output>, Vec<Output>)>);

impl Outputs {
    pub fn open(paths: &[String], error_paths: &[String]) -> Result<Outputs, String> {
        let open = |ps| Output::open_all(ps).map_err(|e| format!("service.telemetry.logs: {e}"));
        Ok(Outputs(Arc::new((open(paths)?, open(error_paths)?))))
    }
}

impl Write for &Outputs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (outputs, errors) = &*self.0;
        for out in outputs {
            if let Err(e) = out.write_all(buf) {
                let msg = format!("log output {}: cannot write: {e}\n", out.name());
                for err in errors {
                    let _ = err.write_all(msg.as_bytes());
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Outputs {
    type Writer = &'a Outputs;
    fn make_writer(&'a self) -> &'a Outputs {
        self
    }
}

/// zap's sampler: per call site and tick, the first `initial` lines, then
/// every `thereafter`-th (zap keys by level and message; a call site here
/// has one level and one message template).
pub struct Sampler {
    tick: Duration,
    initial: u64,
    thereafter: u64,
    seen: Mutex<HashMap<usize, (Instant, u64)>>,
}

impl Sampler {
    pub fn new(cfg: &LogSampling) -> Sampler {
        Sampler { tick: cfg.tick.0, initial: cfg.initial, thereafter: cfg.thereafter.max(1), seen: Mutex::default() }
    }

    fn allow(&self, site: usize, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let entry = seen.entry(site).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.tick {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= self.initial || (entry.1 - self.initial).is_multiple_of(self.thereafter)
    }
}

impl<S: Subscriber> Layer<S> for Sampler {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let site: &Metadata<'static> = event.metadata();
        self.allow(site as *const Metadata<'static> as usize, Instant::now())
    }
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
