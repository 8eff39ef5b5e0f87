//! `include` / `exclude` matching shared by processors (otelcol-contrib's
//! `filterconfig` with `filterspan`, `filterlog`, `filtermetric` and
//! `filterset`): which spans, log records and metrics a processor acts on.
//! Which properties a signal takes follows upstream, with its messages.

use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValueKind;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::actions::json_to_any;
use crate::component::Invalid;
use crate::otlp::pdata::as_string;
use crate::signal::Signal;
use severity::severity_number;

/// One `include` or `exclude` section, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchProperties {
    pub match_type: Option<String>,
    /// filterset's regexp cache; Rust's `regex` needs none, so it is accepted
    pub regexp: Option<RegexpCacheConfig>,
    pub services: Vec<String>,
    pub span_names: Vec<String>,
    pub span_kinds: Vec<String>,
    pub log_bodies: Vec<String>,
    pub log_severity_texts: Vec<String>,
    pub log_severity_number: Option<SeverityNumberConfig>,
    pub metric_names: Vec<String>,
    pub attributes: Vec<AttributeConfig>,
    pub resources: Vec<AttributeConfig>,
    pub libraries: Vec<LibraryConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegexpCacheConfig {
    pub cacheenabled: bool,
    pub cachemaxnumentries: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    pub key: String,
    /// absent: any value matches, only the key must exist
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryConfig {
    pub name: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityNumberConfig {
    /// a number (1-24) or a name such as `INFO`, `warn2`
    pub min: Value,
    #[serde(default)]
    pub match_undefined: bool,
}

mod severity;
mod signals;

/// A list of strict or regexp patterns: matches when any one matches.
#[derive(Debug, Clone)]
enum Patterns {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Patterns {
    fn matches(&self, s: &str) -> bool {
        match self {
            Patterns::Strict(v) => v.iter().any(|p| p == s),
            Patterns::Regexp(v) => v.iter().any(|r| r.is_match(s)),
        }
    }
}

#[derive(Debug, Clone)]
enum ValueMatch {
    Any,
    Equal(AnyValue),
    Pattern(Regex),
}

#[derive(Debug, Clone)]
struct AttributeMatch {
    key: String,
    value: ValueMatch,
}

#[derive(Debug, Clone)]
struct LibraryMatch {
    name: Patterns,
    version: Option<Patterns>,
}

/// A compiled `include` or `exclude`: every property given must match.
#[derive(Debug, Clone)]
pub struct Matcher {
    services: Option<Patterns>,
    span_names: Option<Patterns>,
    span_kinds: Option<Patterns>,
    log_bodies: Option<Patterns>,
    log_severity_texts: Option<Patterns>,
    log_severity_number: Option<(i32, bool)>,
    metric_names: Option<Patterns>,
    attributes: Vec<AttributeMatch>,
    resources: Vec<AttributeMatch>,
    libraries: Vec<LibraryMatch>,
}

/// What a matcher looks at: the item with its resource and scope.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    Span(&'a Span),
    Log(&'a LogRecord),
    Metric(&'a Metric),
}

pub struct Context<'a> {
    pub resource: Option<&'a Resource>,
    pub scope: Option<&'a InstrumentationScope>,
    pub item: Item<'a>,
}

impl MatchProperties {
    /// Compiles the patterns; errors carry the key path below this section.
    pub fn compile(&self) -> Result<Matcher, Invalid> {
        let regexp = match self.match_type.as_deref().unwrap_or_default() {
            "strict" => false,
            "regexp" => true,
            other => {
                return Err(Invalid::at(
                    "match_type",
                    format!("unrecognized match_type: '{other}', valid types are: [regexp strict]"),
                ))
            }
        };
        let set = |key: &str, list: &[String]| -> Result<Option<Patterns>, Invalid> {
            if list.is_empty() {
                return Ok(None);
            }
            patterns(regexp, key, list).map(Some)
        };
        let libraries = self
            .libraries
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let at = format!("libraries.{i}");
                Ok(LibraryMatch {
                    name: patterns(regexp, &format!("{at}.name"), std::slice::from_ref(&l.name))?,
                    version: match &l.version {
                        Some(v) => Some(patterns(regexp, &format!("{at}.version"), std::slice::from_ref(v))?),
                        None => None,
                    },
                })
            })
            .collect::<Result<_, Invalid>>()?;
        let log_severity_number = match &self.log_severity_number {
            Some(s) => Some((severity_number(&s.min)?, s.match_undefined)),
            None => None,
        };
        Ok(Matcher {
            services: set("services", &self.services)?,
            span_names: set("span_names", &self.span_names)?,
            span_kinds: set("span_kinds", &self.span_kinds)?,
            log_bodies: set("log_bodies", &self.log_bodies)?,
            log_severity_texts: set("log_severity_texts", &self.log_severity_texts)?,
            log_severity_number,
            metric_names: set("metric_names", &self.metric_names)?,
            attributes: attribute_matches(regexp, "attributes", &self.attributes)?,
            resources: attribute_matches(regexp, "resources", &self.resources)?,
            libraries,
        })
    }
}

fn patterns(regexp: bool, key: &str, list: &[String]) -> Result<Patterns, Invalid> {
    if !regexp {
        return Ok(Patterns::Strict(list.to_vec()));
    }
    let compiled = list.iter().enumerate().map(|(i, p)| {
        Regex::new(p).map_err(|e| {
            // a library's name or version is one pattern, already at its full path
            let at = if key.starts_with("libraries.") { key.to_owned() } else { format!("{key}.{i}") };
            Invalid::at(at, format!("invalid regexp {p:?}: {e}"))
        })
    });
    Ok(Patterns::Regexp(compiled.collect::<Result<_, _>>()?))
}

fn attribute_matches(regexp: bool, key: &str, list: &[AttributeConfig]) -> Result<Vec<AttributeMatch>, Invalid> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let at = format!("{key}.{i}");
        if a.key.is_empty() {
            return Err(Invalid::at(format!("{at}.key"), "can't have empty key in the list of attributes"));
        }
        let value = match (&a.value, regexp) {
            (None | Some(Value::Null), _) => ValueMatch::Any,
            (Some(v), false) => ValueMatch::Equal(json_to_any(v)),
            (Some(Value::String(p)), true) => ValueMatch::Pattern(
                Regex::new(p).map_err(|e| Invalid::at(format!("{at}.value"), format!("invalid regexp {p:?}: {e}")))?,
            ),
            (Some(v), true) => {
                return Err(Invalid::at(
                    format!("{at}.value"),
                    format!("match_type=regexp for {:?} only supports Str, but found {}", a.key, json_type(v)),
                ))
            }
        };
        out.push(AttributeMatch { key: a.key.clone(), value });
    }
    Ok(out)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "Bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Int",
        Value::Number(_) => "Double",
        Value::Array(_) => "Slice",
        Value::Object(_) => "Map",
        Value::Null | Value::String(_) => "Str",
    }
}

fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        0 => "SPAN_KIND_UNSPECIFIED",
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "",
    }
}

/// A log body as pdata's `AsString`: maps and arrays as Go's JSON, bytes as base64.
fn body_text(v: &AnyValue) -> String {
    as_string(v)
}

/// Regexp matching sees strings, bools and numbers as text; other types never match.
fn value_text(v: &AnyValue) -> Option<String> {
    match &v.value {
        Some(AnyValueKind::StringValue(_) | AnyValueKind::BoolValue(_) | AnyValueKind::IntValue(_)) => {
            Some(as_string(v))
        }
        Some(AnyValueKind::DoubleValue(d)) => Some(d.to_string()),
        _ => None,
    }
}

/// All entries must be present and match; an empty list matches anything.
fn attributes_match(want: &[AttributeMatch], attrs: &[KeyValue]) -> bool {
    want.iter().all(|w| {
        let Some(got) = attrs.iter().find(|kv| kv.key == w.key) else { return false };
        let got = got.value.clone().unwrap_or_default();
        match &w.value {
            ValueMatch::Any => true,
            ValueMatch::Equal(v) => *v == got,
            ValueMatch::Pattern(re) => value_text(&got).is_some_and(|s| re.is_match(&s)),
        }
    })
}

impl Matcher {
    pub fn matches(&self, ctx: &Context) -> bool {
        let resource_attrs = ctx.resource.map(|r| r.attributes.as_slice()).unwrap_or_default();
        if let Some(services) = &self.services {
            let name = resource_attrs.iter().find(|kv| kv.key == "service.name");
            let name =
                name.map_or("<nil-service-name>".to_owned(), |kv| as_string(&kv.value.clone().unwrap_or_default()));
            if !services.matches(&name) {
                return false;
            }
        }
        let item_attrs: &[KeyValue] = match ctx.item {
            Item::Span(s) => {
                if self.span_names.as_ref().is_some_and(|p| !p.matches(&s.name))
                    || self.span_kinds.as_ref().is_some_and(|p| !p.matches(span_kind_name(s.kind)))
                {
                    return false;
                }
                &s.attributes
            }
            Item::Log(l) => {
                let body = l.body.clone().unwrap_or_default();
                if self.log_bodies.as_ref().is_some_and(|p| !p.matches(&body_text(&body)))
                    || self.log_severity_texts.as_ref().is_some_and(|p| !p.matches(&l.severity_text))
                {
                    return false;
                }
                if let Some((min, undefined)) = self.log_severity_number {
                    let ok = if l.severity_number == 0 { undefined } else { l.severity_number >= min };
                    if !ok {
                        return false;
                    }
                }
                &l.attributes
            }
            Item::Metric(m) => {
                if self.metric_names.as_ref().is_some_and(|p| !p.matches(&m.name)) {
                    return false;
                }
                &[]
            }
        };
        let (scope_name, scope_version) = ctx.scope.map_or(("", ""), |s| (s.name.as_str(), s.version.as_str()));
        let libraries_ok = self
            .libraries
            .iter()
            .all(|l| l.name.matches(scope_name) && l.version.as_ref().is_none_or(|v| v.matches(scope_version)));
        libraries_ok
            && attributes_match(&self.resources, resource_attrs)
            && attributes_match(&self.attributes, item_attrs)
    }
}

/// `include` then `exclude`: an item is processed when it matches `include`
/// (or there is none) and does not match `exclude`.
#[derive(Debug, Clone, Default)]
pub struct MatchRule {
    include: Option<Matcher>,
    exclude: Option<Matcher>,
}

impl MatchRule {
    /// Compiles both sections for `signal`; errors carry `include.`/`exclude.` paths.
    pub fn build(
        include: Option<&MatchProperties>,
        exclude: Option<&MatchProperties>,
        signal: Option<Signal>,
    ) -> Result<MatchRule, Invalid> {
        let one = |name: &str, p: Option<&MatchProperties>| -> Result<Option<Matcher>, Invalid> {
            let Some(p) = p else { return Ok(None) };
            let prefix =
                |e: Invalid| Invalid::at(format!("{name}.{}", e.path).trim_end_matches('.').to_owned(), e.message);
            let m = p.compile().map_err(prefix)?;
            if let Some(signal) = signal {
                p.check_signal(signal).map_err(prefix)?;
            }
            Ok(Some(m))
        };
        Ok(MatchRule { include: one("include", include)?, exclude: one("exclude", exclude)? })
    }

    /// Only the checks that depend on `signal` (validation compiles the
    /// patterns once, signal-free, and reports their errors there).
    pub fn check_signal(
        include: Option<&MatchProperties>,
        exclude: Option<&MatchProperties>,
        signal: Signal,
    ) -> Result<(), Invalid> {
        for (name, p) in [("include", include), ("exclude", exclude)] {
            if let Some(p) = p {
                p.check_signal(signal).map_err(|e| {
                    Invalid::at(format!("{name}.{}", e.path).trim_end_matches('.').to_owned(), e.message)
                })?;
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none()
    }

    pub fn applies(&self, ctx: &Context) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches(ctx)) && !self.exclude.as_ref().is_some_and(|m| m.matches(ctx))
    }
}

#[cfg(test)]
mod tests;
