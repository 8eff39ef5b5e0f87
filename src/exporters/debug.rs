//! The `debug` exporter (and the removed `logging` exporter's name): writes
//! what passes to stderr. `basic` prints counts, `normal` one line per item,
//! `detailed` every field, in the layout otelcol's debug exporter uses.
//! With `use_internal_logger` (the default) output goes to the log stream
//! (stderr) sampled as otelcol's logger samples it: per second, the first
//! `sampling_initial` batches, then every `sampling_thereafter`-th; without
//! it every batch goes to each of `output_paths` (stdout, stderr or files;
//! stdout by default).

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use futures::future::BoxFuture;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Deserialize;

use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, Validate,
};
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::runtime::Output;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    /// the old `logging` exporter's name for verbosity
    pub loglevel: Option<String>,
    pub sampling_initial: u64,
    pub sampling_thereafter: u64,
    pub use_internal_logger: bool,
    /// refused: otelcol's attribute filters for the output
    pub output: Option<serde_json::Value>,
    /// with `use_internal_logger: false`: stdout, stderr or files
    pub output_paths: Option<Vec<String>>,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            loglevel: None,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
            output: None,
            output_paths: None,
        }
    }
}

pub fn factory(type_name: &'static str, deprecated: Option<&'static str>) -> Factory<dyn ExporterConfig> {
    Factory { type_name, signals: &Signal::ALL, deprecated, parse: |v| Ok(Box::new(parse_section::<DebugConfig>(v)?)) }
}

impl Validate for DebugConfig {
    fn validate(&self) -> Result<(), Invalid> {
        match &self.output_paths {
            Some(_) if self.use_internal_logger => {
                return Err(Invalid::at(
                    "output_paths",
                    "applies only with use_internal_logger: false; set that, or leave the output in the \
                     collector's log (service.telemetry.logs.output_paths)",
                ))
            }
            Some(paths) if paths.is_empty() || paths.iter().any(String::is_empty) => {
                return Err(Invalid::at("output_paths", "needs stdout, stderr or file paths, none of them empty"))
            }
            _ => {}
        }
        if self.output.is_some() {
            return Err(Invalid::at(
                "output",
                "attribute filters for the debug output are not supported; remove output (all attributes are printed)",
            ));
        }
        if self.use_internal_logger && self.sampling_thereafter == 0 {
            return Err(Invalid::at(
                "sampling_thereafter",
                "must be at least 1 (1 logs every batch after the first ones)",
            ));
        }
        match self.loglevel.as_deref() {
            None | Some("debug" | "info" | "warn" | "error") => Ok(()),
            Some(other) => Err(Invalid::at(
                "loglevel",
                format!("unknown level {other:?}; use verbosity: basic, normal or detailed"),
            )),
        }
    }
}

impl ExporterConfig for DebugConfig {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let verbosity = match self.loglevel.as_deref() {
            Some("debug") => Verbosity::Detailed,
            _ => self.verbosity,
        };
        let name = ctx.id.to_string();
        let sampler = self.use_internal_logger.then(|| {
            std::sync::Mutex::new(Sampler {
                initial: self.sampling_initial,
                thereafter: self.sampling_thereafter,
                second: 0,
                seen: 0,
            })
        });
        let paths = self.output_paths.clone().unwrap_or_else(|| vec!["stdout".into()]);
        let outputs = Output::open_all(&paths).map_err(|e| anyhow::anyhow!("output_paths: {e}"))?;
        let export = DebugExport { name: name.clone(), verbosity, sampler, outputs };
        // Printing is local: no queue or retries needed.
        let settings = HelperSettings {
            timeout: Duration::from_secs(30),
            retry: RetryConfig { enabled: false, ..RetryConfig::default() },
            queue: QueueConfig { enabled: false, ..QueueConfig::default() },
        };
        Ok(helper::build(name.clone(), Box::new(export), settings, ctx.telemetry.exporter(signal, &name)))
    }
}

struct DebugExport {
    name: String,
    verbosity: Verbosity,
    /// `None`: every batch to `outputs` (`use_internal_logger: false`)
    sampler: Option<std::sync::Mutex<Sampler>>,
    outputs: Vec<Output>,
}

/// zap's sampler as otelcol configures it for this exporter: per second,
/// the first `initial` entries, then every `thereafter`-th.
struct Sampler {
    initial: u64,
    thereafter: u64,
    second: u64,
    seen: u64,
}

impl Sampler {
    fn admit(&mut self, second: u64) -> bool {
        if second != self.second {
            self.second = second;
            self.seen = 0;
        }
        self.seen += 1;
        self.seen <= self.initial || (self.seen - self.initial).is_multiple_of(self.thereafter.max(1))
    }
}

impl Export for DebugExport {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            if let Some(sampler) = &self.sampler {
                let second = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                if !sampler.lock().unwrap_or_else(|e| e.into_inner()).admit(second) {
                    return Ok(PartialSuccess::default());
                }
            }
            let text = if self.verbosity == Verbosity::Basic {
                summary(&self.name, &batch, None)
            } else {
                let decoded = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))?;
                let mut out = summary(&self.name, &batch, Some(&decoded));
                render(&mut out, &decoded, self.verbosity == Verbosity::Detailed);
                out
            };
            match self.sampler {
                Some(_) => {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                }
                None => {
                    for out in &self.outputs {
                        let _ = out.write_all(text.as_bytes());
                    }
                }
            }
            Ok(PartialSuccess::default())
        })
    }
}

fn summary(name: &str, batch: &Batch, decoded: Option<&Decoded>) -> String {
    let (title, noun, resources) = match batch.signal() {
        Signal::Traces => ("Traces", "spans", "resource spans"),
        Signal::Metrics => ("Metrics", "data points", "resource metrics"),
        Signal::Logs => ("Logs", "log records", "resource logs"),
    };
    let resource_count = decoded.map(resource_count).map(|n| format!("\"{resources}\": {n}, ")).unwrap_or_default();
    format!(
        "{}\tinfo\t{title}\t{{\"otelcol.component.id\": \"{name}\", {resource_count}\"{noun}\": {}}}\n",
        now(),
        batch.items()
    )
}

fn resource_count(d: &Decoded) -> usize {
    match d {
        Decoded::Traces(v) => v.len(),
        Decoded::Metrics(v) => v.len(),
        Decoded::Logs(v) => v.len(),
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

fn time(nanos: u64) -> String {
    humantime::format_rfc3339_nanos(UNIX_EPOCH + Duration::from_nanos(nanos)).to_string()
}

pub fn value(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => "Empty()".into(),
        Some(V::StringValue(s)) => format!("Str({s})"),
        Some(V::BoolValue(b)) => format!("Bool({b})"),
        Some(V::IntValue(i)) => format!("Int({i})"),
        Some(V::DoubleValue(d)) => format!("Double({d})"),
        Some(V::BytesValue(b)) => format!("Bytes({})", const_hex::encode(b)),
        Some(V::ArrayValue(a)) => {
            format!("Slice([{}])", a.values.iter().map(|v| value(&Some(v.clone()))).collect::<Vec<_>>().join(", "))
        }
        Some(V::KvlistValue(kv)) => format!("Map({{{}}})", inline_attrs(&kv.values)),
        Some(V::StringValueStrindex(i)) => format!("StrIndex({i})"),
    }
}

fn inline_attrs(attrs: &[KeyValue]) -> String {
    attrs.iter().map(|kv| format!("{}={}", kv.key, value(&kv.value))).collect::<Vec<_>>().join(" ")
}

fn attrs_block(out: &mut String, title: &str, attrs: &[KeyValue]) {
    if attrs.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}:");
    for kv in attrs {
        let _ = writeln!(out, "     -> {}: {}", kv.key, value(&kv.value));
    }
}

fn resource_header(out: &mut String, kind: &str, i: usize, resource: &Option<Resource>, schema: &str, detailed: bool) {
    let attrs = resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
    if detailed {
        let _ = writeln!(out, "{kind} #{i}\nResource SchemaURL: {schema}");
        attrs_block(out, "Resource attributes", attrs);
    } else {
        let _ = writeln!(out, "{kind} #{i} {}", inline_attrs(attrs));
    }
}

fn scope_header(
    out: &mut String,
    kind: &str,
    i: usize,
    scope: &Option<InstrumentationScope>,
    schema: &str,
    detailed: bool,
) {
    let (name, version) = scope.as_ref().map(|s| (s.name.as_str(), s.version.as_str())).unwrap_or_default();
    if detailed {
        let _ = writeln!(out, "{kind} #{i}\n{kind} SchemaURL: {schema}\nInstrumentationScope {name} {version}");
    } else {
        let _ = writeln!(out, "{kind} #{i} {name}@{version}");
    }
}

fn render(out: &mut String, d: &Decoded, detailed: bool) {
    match d {
        Decoded::Traces(rs) => {
            for (i, r) in rs.iter().enumerate() {
                resource_header(out, "ResourceSpans", i, &r.resource, &r.schema_url, detailed);
                for (j, s) in r.scope_spans.iter().enumerate() {
                    scope_header(out, "ScopeSpans", j, &s.scope, &s.schema_url, detailed);
                    for (k, sp) in s.spans.iter().enumerate() {
                        let (tid, sid, pid) = (
                            const_hex::encode(&sp.trace_id),
                            const_hex::encode(&sp.span_id),
                            const_hex::encode(&sp.parent_span_id),
                        );
                        if !detailed {
                            let _ = writeln!(out, "{} {tid} {sid} {}", sp.name, inline_attrs(&sp.attributes));
                            continue;
                        }
                        let status = sp.status.clone().unwrap_or_default();
                        let code = ["Unset", "Ok", "Error"].get(status.code as usize).copied().unwrap_or("Unknown");
                        let kind = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
                            .get(sp.kind as usize)
                            .copied()
                            .unwrap_or("Unknown");
                        let _ = writeln!(
                            out,
                            "Span #{k}\n    Trace ID       : {tid}\n    Parent ID      : {pid}\n    ID             : {sid}\n    Name           : {}\n    Kind           : {kind}\n    Start time     : {}\n    End time       : {}\n    Status code    : {code}\n    Status message : {}",
                            sp.name, time(sp.start_time_unix_nano), time(sp.end_time_unix_nano), status.message
                        );
                        attrs_block(out, "Attributes", &sp.attributes);
                        for (e, ev) in sp.events.iter().enumerate() {
                            let _ = writeln!(
                                out,
                                "SpanEvent #{e}\n     -> Name: {}\n     -> Timestamp: {}",
                                ev.name,
                                time(ev.time_unix_nano)
                            );
                            attrs_block(out, "     -> Attributes", &ev.attributes);
                        }
                    }
                }
            }
        }
        Decoded::Logs(rs) => {
            for (i, r) in rs.iter().enumerate() {
                resource_header(out, "ResourceLog", i, &r.resource, &r.schema_url, detailed);
                for (j, s) in r.scope_logs.iter().enumerate() {
                    scope_header(out, "ScopeLogs", j, &s.scope, &s.schema_url, detailed);
                    for (k, l) in s.log_records.iter().enumerate() {
                        if !detailed {
                            let _ = writeln!(out, "{} {}", value(&l.body), inline_attrs(&l.attributes));
                            continue;
                        }
                        let _ = writeln!(
                            out,
                            "LogRecord #{k}\nObservedTimestamp: {}\nTimestamp: {}\nSeverityText: {}\nSeverityNumber: {}\nBody: {}",
                            time(l.observed_time_unix_nano), time(l.time_unix_nano), l.severity_text, l.severity_number, value(&l.body)
                        );
                        attrs_block(out, "Attributes", &l.attributes);
                        let _ = writeln!(
                            out,
                            "Trace ID: {}\nSpan ID: {}\nFlags: {}",
                            const_hex::encode(&l.trace_id),
                            const_hex::encode(&l.span_id),
                            l.flags
                        );
                    }
                }
            }
        }
        Decoded::Metrics(rs) => {
            for (i, r) in rs.iter().enumerate() {
                resource_header(out, "ResourceMetrics", i, &r.resource, &r.schema_url, detailed);
                for (j, s) in r.scope_metrics.iter().enumerate() {
                    scope_header(out, "ScopeMetrics", j, &s.scope, &s.schema_url, detailed);
                    for (k, m) in s.metrics.iter().enumerate() {
                        let (ty, points) = metric_points(m.data.as_ref());
                        if !detailed {
                            let _ = writeln!(out, "{} {ty} {}", m.name, points.join(" "));
                            continue;
                        }
                        let _ = writeln!(out, "Metric #{k}\nDescriptor:\n     -> Name: {}\n     -> Description: {}\n     -> Unit: {}\n     -> DataType: {ty}", m.name, m.description, m.unit);
                        for (p, line) in points.iter().enumerate() {
                            let _ = writeln!(out, "DataPoint #{p}: {line}");
                        }
                    }
                }
            }
        }
    }
}

fn metric_points(data: Option<&Data>) -> (&'static str, Vec<String>) {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as N;
    let num = |v: &Option<N>| match v {
        Some(N::AsInt(i)) => i.to_string(),
        Some(N::AsDouble(d)) => d.to_string(),
        None => "<none>".into(),
    };
    match data {
        Some(Data::Gauge(g)) => (
            "Gauge",
            g.data_points.iter().map(|p| format!("{{{}}} {}", inline_attrs(&p.attributes), num(&p.value))).collect(),
        ),
        Some(Data::Sum(s)) => (
            "Sum",
            s.data_points.iter().map(|p| format!("{{{}}} {}", inline_attrs(&p.attributes), num(&p.value))).collect(),
        ),
        Some(Data::Histogram(h)) => (
            "Histogram",
            h.data_points
                .iter()
                .map(|p| {
                    format!("{{{}}} count={} sum={}", inline_attrs(&p.attributes), p.count, p.sum.unwrap_or_default())
                })
                .collect(),
        ),
        Some(Data::ExponentialHistogram(h)) => (
            "ExponentialHistogram",
            h.data_points
                .iter()
                .map(|p| {
                    format!("{{{}}} count={} sum={}", inline_attrs(&p.attributes), p.count, p.sum.unwrap_or_default())
                })
                .collect(),
        ),
        Some(Data::Summary(s)) => (
            "Summary",
            s.data_points
                .iter()
                .map(|p| format!("{{{}}} count={} sum={}", inline_attrs(&p.attributes), p.count, p.sum))
                .collect(),
        ),
        None => ("Empty", Vec::new()),
    }
}

#[cfg(test)]
#[path = "debug_tests.rs"]
mod tests;
