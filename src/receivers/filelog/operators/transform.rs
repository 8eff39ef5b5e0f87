//! The general operators: `move` (`from`, `to`), `add` (`field`, `value`)
//! and `remove` (`field`), as pkg/stanza/operator/transformer does them.

use serde::Deserialize;
use serde_json::Value;

use super::super::entry::Entry;
use super::super::field::Field;
use super::operator::{BuildError, Operator};

fn field(key: &str, v: &Option<String>) -> Result<Field, BuildError> {
    let s = v.as_deref().ok_or((key.to_owned(), "is required".to_owned()))?;
    Field::parse(s).map_err(|e| (key.to_owned(), e))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoveConfig {
    from: Option<String>,
    to: Option<String>,
}

struct Move {
    from: Field,
    to: Field,
}

impl MoveConfig {
    pub fn build(&self) -> Result<Box<dyn Operator>, BuildError> {
        Ok(Box::new(Move { from: field("from", &self.from)?, to: field("to", &self.to)? }))
    }
}

impl Operator for Move {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.from.delete(e).ok_or_else(|| format!("the entry has no {} to move", self.from))?;
        self.to.set(e, v)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddConfig {
    field: Option<String>,
    value: Option<Value>,
}

struct Add {
    field: Field,
    value: Value,
}

impl AddConfig {
    pub fn build(&self) -> Result<Box<dyn Operator>, BuildError> {
        let value = self.value.clone().ok_or(("value".to_owned(), "is required".to_owned()))?;
        if value.as_str().is_some_and(|s| s.starts_with("EXPR(")) {
            return Err(("value".into(), "EXPR(...) expressions are not supported here; give a fixed value".into()));
        }
        Ok(Box::new(Add { field: field("field", &self.field)?, value }))
    }
}

impl Operator for Add {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.field.set(e, self.value.clone())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveConfig {
    field: Option<String>,
}

struct Remove {
    field: Field,
}

impl RemoveConfig {
    pub fn build(&self) -> Result<Box<dyn Operator>, BuildError> {
        Ok(Box::new(Remove { field: field("field", &self.field)? }))
    }
}

impl Operator for Remove {
    fn process(&self, e: &mut Entry) -> Result<(), String> {
        self.field.delete(e).map(|_| ()).ok_or_else(|| format!("the entry has no {} to remove", self.field))
    }
}
