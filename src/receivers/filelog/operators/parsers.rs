//! The parser operators (stanza's `helper/parser.go` with `json_parser`
//! and `regex_parser`): read `parse_from` (default `body`), write the parsed
//! map to `parse_to` (default `attributes`), then run the embedded
//! `timestamp` and `severity` blocks. Nothing is changed when parsing fails.

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Number, Value};

use super::super::entry::Entry;
use super::super::field::Field;
use super::operator::{BuildError, Operator};
use super::severity::{SeverityConfig, SeverityParser};
use super::time::{TimeConfig, TimeParser};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonParserConfig {
    parse_from: Option<String>,
    parse_to: Option<String>,
    timestamp: Option<TimeConfig>,
    severity: Option<SeverityConfig>,
    #[serde(default)]
    parse_ints: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexParserConfig {
    parse_from: Option<String>,
    parse_to: Option<String>,
    timestamp: Option<TimeConfig>,
    severity: Option<SeverityConfig>,
    regex: Option<String>,
}

/// The keys every parser has.
struct ParserConfig<'a> {
    parse_from: &'a Option<String>,
    parse_to: &'a Option<String>,
    timestamp: &'a Option<TimeConfig>,
    severity: &'a Option<SeverityConfig>,
}

pub struct Parser {
    parse_from: Field,
    parse_to: Field,
    time: Option<TimeParser>,
    severity: Option<SeverityParser>,
}

fn field(key: &str, v: &Option<String>, default: Field) -> Result<Field, BuildError> {
    v.as_deref().map(Field::parse).transpose().map_err(|e| (key.to_owned(), e)).map(|f| f.unwrap_or(default))
}

impl ParserConfig<'_> {
    fn build(&self) -> Result<Parser, BuildError> {
        let nest = |block: &'static str| move |(k, m): BuildError| (format!("{block}.{k}"), m);
        Ok(Parser {
            parse_from: field("parse_from", self.parse_from, Field::body())?,
            parse_to: field("parse_to", self.parse_to, Field::attributes())?,
            time: self.timestamp.as_ref().map(TimeParser::build).transpose().map_err(nest("timestamp"))?,
            severity: self
                .severity
                .as_ref()
                .map(|s| SeverityParser::build(s, None))
                .transpose()
                .map_err(nest("severity"))?,
        })
    }
}

impl Parser {
    fn run(&self, e: &mut Entry, parse: impl Fn(&Value) -> Result<Value, String>) -> Result<(), String> {
        let v = self.parse_from.get(e).ok_or_else(|| format!("the entry has no {} to parse", self.parse_from))?;
        let parsed = parse(v)?;
        self.parse_to.set(e, parsed)?;
        // both are tried before either error is reported, as upstream does
        let t = self.time.as_ref().map(|t| t.parse(e)).unwrap_or(Ok(()));
        let s = self.severity.as_ref().map(|s| s.parse(e)).unwrap_or(Ok(()));
        t.map_err(|m| format!("time parser: {m}"))?;
        s.map_err(|m| format!("severity parser: {m}"))
    }
}

pub struct JsonParser {
    parser: Parser,
    parse_ints: bool,
}

/// JSON numbers are doubles unless `parse_ints` (as upstream's decoder).
fn floats(v: Value) -> Value {
    match v {
        Value::Number(n) if !n.is_f64() => {
            n.as_f64().and_then(Number::from_f64).map(Value::Number).unwrap_or(Value::Number(n))
        }
        Value::Array(a) => Value::Array(a.into_iter().map(floats).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, floats(v))).collect()),
        other => other,
    }
}

impl JsonParserConfig {
    pub fn build(&self) -> Result<Box<dyn Operator>, BuildError> {
        let common = ParserConfig {
            parse_from: &self.parse_from,
            parse_to: &self.parse_to,
            timestamp: &self.timestamp,
            severity: &self.severity,
        };
        Ok(Box::new(JsonParser { parser: common.build()?, parse_ints: self.parse_ints }))
    }
}

impl Operator for JsonParser {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.parser.run(e, |v| {
            let Value::String(s) = v else { return Err(format!("type {} cannot be parsed as JSON", kind(v))) };
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) if self.parse_ints => Ok(Value::Object(m)),
                Ok(Value::Object(m)) => Ok(floats(Value::Object(m))),
                Ok(_) => Err("the JSON is not an object".into()),
                Err(e) => Err(format!("not JSON: {e}")),
            }
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "map",
        Value::Array(_) => "list",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        _ => "null",
    }
}

pub struct RegexParser {
    parser: Parser,
    regex: Regex,
}

impl RegexParserConfig {
    pub fn build(&self) -> Result<Box<dyn Operator>, BuildError> {
        let src = self.regex.as_deref().ok_or(("regex".to_owned(), "is required".to_owned()))?;
        let regex = Regex::new(src).map_err(|e| ("regex".to_owned(), e.to_string()))?;
        if regex.capture_names().flatten().next().is_none() {
            return Err((
                "regex".into(),
                "has no named capture groups; name what to keep, e.g. (?P<level>\\w+)".into(),
            ));
        }
        let common = ParserConfig {
            parse_from: &self.parse_from,
            parse_to: &self.parse_to,
            timestamp: &self.timestamp,
            severity: &self.severity,
        };
        Ok(Box::new(RegexParser { parser: common.build()?, regex }))
    }
}

impl Operator for RegexParser {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.parser.run(e, |v| {
            let Value::String(s) = v else { return Err(format!("type {} cannot be parsed with a regex", kind(v))) };
            let caps = self.regex.captures(s).ok_or("the regex pattern does not match")?;
            let mut out = Map::new();
            // a group that took no part in the match is an empty string, as upstream
            for name in self.regex.capture_names().flatten() {
                let text = caps.name(name).map(|m| m.as_str()).unwrap_or_default();
                out.insert(name.to_owned(), Value::String(text.to_owned()));
            }
            Ok(Value::Object(out))
        })
    }
}
