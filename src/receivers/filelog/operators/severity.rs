//! Severity parsing (stanza's `helper/severity_builder.go`): a mapping of
//! values to OTel severity numbers built from a `preset` (the default one
//! knows `error`, `err`, `warning`, `info`, numbers 1-24...) plus the
//! user's `mapping` (single values, lists, `min`/`max` ranges, `2xx`..`5xx`).
//! Strings match case-insensitively.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::super::entry::Entry;
use super::super::field::Field;

/// stanza's aliases, in severity-number order (index + 1).
const ALIASES: [&str; 24] = [
    "trace", "trace2", "trace3", "trace4", "debug", "debug2", "debug3", "debug4", "info", "info2", "info3", "info4",
    "warn", "warn2", "warn3", "warn4", "error", "error2", "error3", "error4", "fatal", "fatal2", "fatal3", "fatal4",
];

/// The `severity` block's keys (and `severity_parser`'s own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityConfig {
    pub parse_from: Option<String>,
    pub preset: Option<String>,
    #[serde(default)]
    pub mapping: serde_json::Map<String, Value>,
    #[serde(default)]
    pub overwrite_text: bool,
}

#[derive(Debug)]
pub struct SeverityParser {
    parse_from: Field,
    mapping: HashMap<String, i32>,
    overwrite_text: bool,
}

fn preset(name: &str) -> Result<HashMap<String, i32>, String> {
    let mut m = HashMap::new();
    if name == "none" {
        return Ok(m);
    }
    for (i, a) in ALIASES.iter().enumerate() {
        m.insert((*a).to_owned(), i as i32 + 1);
        m.insert((i + 1).to_string(), i as i32 + 1);
    }
    match name {
        "otel" | "aliases" => {}
        "default" | "" => {
            for (i, n) in ["warning", "warning2", "warning3", "warning4"].iter().enumerate() {
                m.insert((*n).to_owned(), 13 + i as i32);
            }
            for (i, n) in ["err", "err2", "err3", "err4"].iter().enumerate() {
                m.insert((*n).to_owned(), 17 + i as i32);
            }
        }
        other => return Err(format!("unknown preset {other:?}; use default, otel or none")),
    }
    Ok(m)
}

/// The OTel short name of a severity number (`INFO`, `ERROR2`...).
pub fn short_name(n: i32) -> String {
    if !(1..=24).contains(&n) {
        return String::new();
    }
    let base = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"][((n - 1) / 4) as usize];
    match (n - 1) % 4 {
        0 => base.to_owned(),
        k => format!("{base}{}", k + 1),
    }
}

fn values(v: &Value) -> Result<Vec<String>, String> {
    let range = |a: i64, b: i64| (a.min(b)..=a.max(b)).map(|i| i.to_string()).collect();
    Ok(match v {
        Value::Number(n) if n.is_i64() => vec![n.to_string()],
        Value::String(s) => match s.as_str() {
            "2xx" => range(200, 299),
            "3xx" => range(300, 399),
            "4xx" => range(400, 499),
            "5xx" => range(500, 599),
            _ => vec![s.to_lowercase()],
        },
        Value::Array(items) => items.iter().map(values).collect::<Result<Vec<_>, _>>()?.concat(),
        Value::Object(m) => match (m.get("min").and_then(Value::as_i64), m.get("max").and_then(Value::as_i64)) {
            (Some(a), Some(b)) if m.len() == 2 => range(a, b),
            _ => return Err("a range is written {min: 1, max: 5} with integers".into()),
        },
        other => return Err(format!("{other} cannot be parsed as a severity")),
    })
}

impl SeverityParser {
    /// Errors are `(key path inside the block, message)`.
    pub fn build(c: &SeverityConfig, default_from: Option<Field>) -> Result<SeverityParser, (String, String)> {
        let parse_from = match (&c.parse_from, default_from) {
            (Some(s), _) => Field::parse(s).map_err(|e| ("parse_from".to_owned(), e))?,
            (None, Some(f)) => f,
            (None, None) => return Err(("parse_from".into(), "is required".into())),
        };
        let mut mapping = preset(c.preset.as_deref().unwrap_or("default")).map_err(|e| ("preset".into(), e))?;
        let aliases = preset("otel").expect("built in");
        for (alias, v) in &c.mapping {
            let Some(&sev) = aliases.get(&alias.to_lowercase()) else {
                return Err((
                    format!("mapping.{alias}"),
                    format!(
                        "{alias:?} is not a severity; use one of trace, debug, info, warn, error, fatal (with 2-4)"
                    ),
                ));
            };
            for s in values(v).map_err(|e| (format!("mapping.{alias}"), e))? {
                mapping.insert(s, sev);
            }
        }
        Ok(SeverityParser { parse_from, mapping, overwrite_text: c.overwrite_text })
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.parse_from.get(e).ok_or_else(|| format!("the entry has no {}", self.parse_from))?;
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_i64() => n.to_string(),
            Value::Number(n) => n.as_f64().map(|f| (f as i64).to_string()).unwrap_or_default(),
            other => return Err(format!("{other} cannot be parsed as a severity")),
        };
        let sev = self.mapping.get(&text.to_lowercase()).copied().unwrap_or(0);
        e.severity = sev;
        // an unmapped value keeps its own text even with overwrite_text, as upstream
        e.severity_text = if self.overwrite_text && sev != 0 { short_name(sev) } else { text };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parser(v: Value) -> SeverityParser {
        SeverityParser::build(&serde_json::from_value(v).unwrap(), None).unwrap()
    }

    fn sev(p: &SeverityParser, v: Value) -> i32 {
        let mut e = Entry { body: json!({ "severity_field": v }), ..Default::default() };
        p.parse(&mut e).unwrap();
        e.severity
    }

    /// pkg/stanza/docs/types/severity.md, "Example Configurations".
    #[test]
    fn upstream_examples() {
        let std = parser(json!({"parse_from": "body.severity_field"}));
        assert_eq!(sev(&std, json!("ERROR")), 17);
        assert_eq!(sev(&std, json!("warning")), 13);
        assert_eq!(sev(&std, json!("unknown")), 0);
        let custom = parser(json!({"parse_from": "body.severity_field", "mapping": {"error": "nooo!"}}));
        assert_eq!((sev(&custom, json!("nooo!")), sev(&custom, json!("ERROR"))), (17, 17));
        let several = parser(json!({"parse_from": "body.severity_field",
            "mapping": {"error": ["nooo!", "nooooooo"], "info": "HEY", "debug": 1234}}));
        assert_eq!(sev(&several, json!("nooooooo")), 17);
        assert_eq!(sev(&several, json!("hey")), 9);
        assert_eq!(sev(&several, json!(1234)), 5);
        let ranges = parser(json!({"parse_from": "body.severity_field",
            "mapping": {"error": [{"min": 1, "max": 5}], "fatal": [{"min": 6, "max": 10}]}}));
        assert_eq!((sev(&ranges, json!(3)), sev(&ranges, json!(9)), sev(&ranges, json!(12))), (17, 21, 12));
        let http = parser(json!({"parse_from": "body.severity_field",
            "mapping": {"warn": "5xx", "error": "4xx", "info": "3xx", "debug": "2xx"}}));
        assert_eq!((sev(&http, json!(302)), sev(&http, json!(404)), sev(&http, json!(200))), (9, 17, 5));
        let none =
            parser(json!({"parse_from": "body.severity_field", "preset": "none", "mapping": {"error": "nooo!"}}));
        assert_eq!((sev(&none, json!("nooo!")), sev(&none, json!("ERROR"))), (17, 0));
    }

    #[test]
    fn text_is_the_original_value_unless_overwritten() {
        let p = parser(json!({"parse_from": "attributes.lvl", "overwrite_text": true}));
        let mut e = Entry::default();
        e.attributes.insert("lvl".into(), json!("Warning"));
        p.parse(&mut e).unwrap();
        assert_eq!((e.severity, e.severity_text.as_str()), (13, "WARN"));
        let p = parser(json!({"parse_from": "attributes.lvl"}));
        p.parse(&mut e).unwrap();
        assert_eq!(e.severity_text, "Warning");
        // compared with otelcol-contrib 0.135: nothing maps NOTICE, its text stays
        let p = parser(json!({"parse_from": "attributes.lvl", "overwrite_text": true}));
        e.attributes.insert("lvl".into(), json!("NOTICE"));
        p.parse(&mut e).unwrap();
        assert_eq!((e.severity, e.severity_text.as_str()), (0, "NOTICE"));
        assert_eq!((short_name(18), short_name(1), short_name(0)), ("ERROR2".into(), "TRACE".into(), String::new()));
    }

    #[test]
    fn bad_mappings_name_the_key() {
        let err = |v: Value| SeverityParser::build(&serde_json::from_value(v).unwrap(), None).unwrap_err().0;
        assert_eq!(err(json!({"parse_from": "body", "mapping": {"loud": "x"}})), "mapping.loud");
        assert_eq!(err(json!({"parse_from": "body", "mapping": {"error": [{"min": 1}]}})), "mapping.error");
        assert_eq!(err(json!({"parse_from": "body", "preset": "syslog"})), "preset");
        assert_eq!(err(json!({})), "parse_from");
    }
}
