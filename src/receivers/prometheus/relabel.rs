//! Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`) with
//! the semantics of prometheus/prometheus `model/relabel/relabel.go`: every
//! action, the defaults (separator `;`, regex `(.*)` anchored at both ends,
//! replacement `$1`, action `replace`) and the same validation rules.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use md5::{Digest, Md5};
use regex::Regex;
use serde::Deserialize;

pub type Labels = BTreeMap<String, String>;

/// One relabel rule as written in the YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: String,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: String,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: ";".into(),
            regex: "(.*)".into(),
            modulus: 0,
            target_label: String::new(),
            replacement: "$1".into(),
            action: "replace".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

/// A validated rule, its regex compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    source_labels: Vec<String>,
    separator: String,
    regex: Regex,
    modulus: u64,
    target_label: String,
    replacement: String,
    action: Action,
}

fn relabel_target() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("static regex"))
}

/// A legacy Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl RelabelConfig {
    /// Checks the rule as Prometheus's `Config.Validate` does and compiles it.
    pub fn compile(&self) -> Result<Rule, String> {
        let action = match self.action.to_lowercase().as_str() {
            "" => return Err("relabel action cannot be empty".into()),
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            other => {
                return Err(format!(
                    "unknown relabel action {other:?}: use one of replace, keep, drop, keepequal, dropequal, \
                     hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase"
                ))
            }
        };
        let name = self.action.to_lowercase();
        let d = RelabelConfig::default();
        if action == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err(format!("relabel configuration for {name} action requires 'target_label' value"));
        }
        if matches!(action, Action::Replace | Action::Lowercase | Action::Uppercase)
            && !relabel_target().is_match(&self.target_label)
        {
            return Err(format!("{:?} is invalid 'target_label' for {name} action", self.target_label));
        }
        if matches!(action, Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual)
            && self.replacement != d.replacement
        {
            return Err(format!("'replacement' can not be set for {name} action"));
        }
        if action == Action::LabelMap && !relabel_target().is_match(&self.replacement) {
            return Err(format!("{:?} is invalid 'replacement' for {name} action", self.replacement));
        }
        let plain_target = matches!(
            action,
            Action::HashMod | Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if plain_target && !valid_label_name(&self.target_label) {
            return Err(format!("{:?} is invalid 'target_label' for {name} action", self.target_label));
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex != d.regex || self.modulus != 0 || self.separator != d.separator)
        {
            return Err(format!("{name} action requires only 'source_labels' and 'target_label', and no other fields"));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != d.separator
                || self.replacement != d.replacement)
        {
            return Err(format!("{name} action requires only 'regex', and no other fields"));
        }
        let regex = Regex::new(&format!("^(?s:{})$", self.regex))
            .map_err(|e| format!("regex {:?} does not compile: {e}", self.regex))?;
        Ok(Rule {
            source_labels: self.source_labels.clone(),
            separator: self.separator.clone(),
            regex,
            modulus: self.modulus,
            target_label: self.target_label.clone(),
            replacement: self.replacement.clone(),
            action,
        })
    }
}

/// Compiles a list of rules; the error names the failing rule's index.
pub fn compile_all(configs: &[RelabelConfig]) -> Result<Vec<Rule>, String> {
    configs.iter().enumerate().map(|(i, c)| c.compile().map_err(|e| format!("rule {i}: {e}"))).collect()
}

/// Sets a label; an empty value deletes it, as Prometheus's `labels.Builder`.
fn set(labels: &mut Labels, name: &str, value: String) {
    if value.is_empty() {
        labels.remove(name);
    } else {
        labels.insert(name.to_owned(), value);
    }
}

/// Runs the rules over `labels`; `false` means the target or series is dropped.
pub fn process(labels: &mut Labels, rules: &[Rule]) -> bool {
    rules.iter().all(|r| apply(labels, r))
}

fn apply(labels: &mut Labels, r: &Rule) -> bool {
    let values: Vec<&str> = r.source_labels.iter().map(|n| labels.get(n).map(String::as_str).unwrap_or("")).collect();
    let val = values.join(&r.separator);
    let current = |n: &str| labels.get(n).cloned().unwrap_or_default();
    match r.action {
        Action::Drop => return !r.regex.is_match(&val),
        Action::Keep => return r.regex.is_match(&val),
        Action::DropEqual => return current(&r.target_label) != val,
        Action::KeepEqual => return current(&r.target_label) == val,
        Action::Replace => {
            let Some(caps) = r.regex.captures(&val) else { return true };
            let mut target = String::new();
            caps.expand(&r.target_label, &mut target);
            if !valid_label_name(&target) {
                return true;
            }
            let mut res = String::new();
            caps.expand(&r.replacement, &mut res);
            set(labels, &target, res);
        }
        Action::Lowercase => set(labels, &r.target_label, val.to_lowercase()),
        Action::Uppercase => set(labels, &r.target_label, val.to_uppercase()),
        Action::HashMod => {
            let hash = Md5::digest(val.as_bytes());
            let tail: [u8; 8] = hash[8..].try_into().expect("md5 is 16 bytes");
            set(labels, &r.target_label, (u64::from_be_bytes(tail) % r.modulus).to_string());
        }
        Action::LabelMap => {
            for (name, value) in labels.clone() {
                if r.regex.is_match(&name) {
                    let res = r.regex.replace_all(&name, r.replacement.as_str()).into_owned();
                    set(labels, &res, value);
                }
            }
        }
        Action::LabelDrop => labels.retain(|name, _| !r.regex.is_match(name)),
        Action::LabelKeep => labels.retain(|name, _| r.regex.is_match(name)),
    }
    true
}

#[cfg(test)]
#[path = "relabel_tests.rs"]
mod tests;
