//! The `operators` list (stanza's operator pipeline): each entry has a
//! `type`, an `id` (default: the type) and an `output` (default: the next
//! operator); the chain is followed from the first operator by `output`
//! ids, as upstream links them. `on_error` decides what a failure does:
//! `send` (default) passes the entry on unchanged, `drop` drops it; the
//! `_quiet` forms log at debug level.

mod layout;
mod operator;
mod parsers;
pub mod severity;
pub mod time;
mod transform;
mod tz;

#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::entry::Entry;
use crate::component::Invalid;
use operator::{BuildError, Operator};

/// What upstream has but this receiver does not, so a config using them
/// gets a sentence instead of "unknown type".
const NOT_HERE: &[&str] = &[
    "csv_parser",
    "key_value_parser",
    "syslog_parser",
    "uri_parser",
    "trace_parser",
    "scope_name_parser",
    "json_array_parser",
    "container",
    "recombine",
    "router",
    "filter",
    "copy",
    "flatten",
    "retain",
    "regex_replace",
    "unquote",
    "assign_keys",
    "sanitize_utf8",
    "strip_ansi_escape_codes",
    "stdout",
];
const SUPPORTED: &str = "json_parser, regex_parser, time_parser, severity_parser, move, add, remove, noop";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnError {
    Send,
    SendQuiet,
    Drop,
    DropQuiet,
}

struct Step {
    id: String,
    on_error: OnError,
    op: Box<dyn Operator>,
}

/// The operators in the order entries go through them.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Step>,
}

struct Noop;

impl Operator for Noop {
    fn process(&self, _e: &mut Entry) -> Result<(), String> {
        Ok(())
    }
}

fn typed<T: DeserializeOwned>(rest: Map<String, Value>) -> Result<T, BuildError> {
    serde_path_to_error::deserialize::<_, T>(Value::Object(rest)).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        (if path == "." { String::new() } else { path }, msg)
    })
}

fn build_one(kind: &str, rest: Map<String, Value>) -> Result<Box<dyn Operator>, BuildError> {
    match kind {
        "json_parser" => typed::<parsers::JsonParserConfig>(rest)?.build(),
        "regex_parser" => typed::<parsers::RegexParserConfig>(rest)?.build(),
        "time_parser" => {
            let c: time::TimeConfig = typed(rest)?;
            Ok(Box::new(TimeOp(time::TimeParser::build(&c)?)))
        }
        "severity_parser" => {
            let c: severity::SeverityConfig = typed(rest)?;
            Ok(Box::new(SeverityOp(severity::SeverityParser::build(&c, None)?)))
        }
        "move" => typed::<transform::MoveConfig>(rest)?.build(),
        "add" => typed::<transform::AddConfig>(rest)?.build(),
        "remove" => typed::<transform::RemoveConfig>(rest)?.build(),
        "noop" => {
            typed::<Empty>(rest)?;
            Ok(Box::new(Noop))
        }
        k if NOT_HERE.contains(&k) => {
            Err(("type".into(), format!("the {k} operator is not supported by this collector; supported: {SUPPORTED}")))
        }
        k => Err(("type".into(), format!("unknown operator type {k:?}; supported: {SUPPORTED}"))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

struct TimeOp(time::TimeParser);

impl Operator for TimeOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.parse(e)
    }
}

struct SeverityOp(severity::SeverityParser);

impl Operator for SeverityOp {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.0.parse(e)
    }
}

impl Pipeline {
    /// Builds the chain from the config's `operators` list; errors carry the
    /// key path under the receiver (`operators.1.regex`, which validation turns into a line and column).
    pub fn build(list: &[Value]) -> Result<Pipeline, Invalid> {
        let at = |i: usize, k: &str| if k.is_empty() { format!("operators.{i}") } else { format!("operators.{i}.{k}") };
        let mut built: Vec<(Step, Option<String>)> = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let Some(obj) = v.as_object() else {
                return Err(Invalid::at(at(i, ""), "an operator is a map with a type, e.g. {type: json_parser}"));
            };
            let mut rest = obj.clone();
            let kind = match rest.remove("type") {
                Some(Value::String(s)) => s,
                _ => return Err(Invalid::at(at(i, "type"), format!("is required; one of {SUPPORTED}"))),
            };
            let text = |rest: &mut Map<String, Value>, k: &str| -> Result<Option<String>, Invalid> {
                match rest.remove(k) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s)),
                    Some(Value::Array(a)) if k == "output" && a.len() <= 1 => {
                        Ok(a.first().and_then(Value::as_str).map(str::to_owned))
                    }
                    Some(Value::Array(_)) if k == "output" => Err(Invalid::at(
                        at(i, k),
                        "lists more than one operator; this collector runs operators in one line, so give one output",
                    )),
                    Some(_) => Err(Invalid::at(at(i, k), "must be a string")),
                }
            };
            let id = text(&mut rest, "id")?.unwrap_or_else(|| kind.clone());
            let output = text(&mut rest, "output")?;
            let on_error = match text(&mut rest, "on_error")?.as_deref() {
                None | Some("send") => OnError::Send,
                Some("send_quiet") => OnError::SendQuiet,
                Some("drop") => OnError::Drop,
                Some("drop_quiet") => OnError::DropQuiet,
                Some(other) => {
                    return Err(Invalid::at(
                        at(i, "on_error"),
                        format!("{other:?} is not an on_error mode; use send, send_quiet, drop or drop_quiet"),
                    ))
                }
            };
            if rest.contains_key("if") {
                return Err(Invalid::at(
                    at(i, "if"),
                    "expressions are not supported by this collector; remove the condition or filter later with a processor",
                ));
            }
            if built.iter().any(|(s, _)| s.id == id) {
                return Err(Invalid::at(
                    at(i, "id"),
                    format!("{id:?} is used by another operator; give each operator of the same type its own id"),
                ));
            }
            let op = build_one(&kind, rest).map_err(|(k, m)| Invalid::at(at(i, &k), m))?;
            built.push((Step { id, on_error, op }, output));
        }
        // follow the outputs from the first operator
        let mut order = Vec::new();
        let mut next = (!built.is_empty()).then_some(0);
        while let Some(i) = next {
            if order.contains(&i) {
                return Err(Invalid::at(at(i, "output"), "makes the operators a loop; the chain must end"));
            }
            order.push(i);
            next = match &built[i].1 {
                None => (i + 1 < built.len()).then_some(i + 1),
                Some(out) => Some(
                    built
                        .iter()
                        .position(|(s, _)| &s.id == out)
                        .ok_or_else(|| Invalid::at(at(i, "output"), format!("no operator has the id {out:?}")))?,
                ),
            };
        }
        let mut slots: Vec<Option<Step>> = built.into_iter().map(|(s, _)| Some(s)).collect();
        Ok(Pipeline { steps: order.into_iter().filter_map(|i| slots[i].take()).collect() })
    }

    /// Runs the entry through the chain; `None` when an operator dropped it.
    pub fn process(&self, mut e: Entry) -> Option<Entry> {
        for s in &self.steps {
            if let Err(err) = s.op.process(&mut e) {
                match s.on_error {
                    OnError::Send | OnError::Drop => {
                        tracing::warn!(operator = %s.id, error = %err, "filelog operator failed")
                    }
                    OnError::SendQuiet | OnError::DropQuiet => {
                        tracing::debug!(operator = %s.id, error = %err, "filelog operator failed")
                    }
                }
                if matches!(s.on_error, OnError::Drop | OnError::DropQuiet) {
                    return None;
                }
            }
        }
        Some(e)
    }

    #[cfg(test)]
    pub fn ids(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.id.as_str()).collect()
    }
}
