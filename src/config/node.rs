//! The configuration as a YAML tree that remembers where every value came
//! from (file, line, column), so that any error can point at its source.

use std::fmt;
use std::sync::Arc;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::Value;

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: NodeValue,
    pub pos: Option<Pos>,
}

impl Node {
    pub fn new(value: NodeValue) -> Node {
        Node { value, pos: None }
    }

    pub fn empty_map() -> Node {
        Node::new(NodeValue::Map(Vec::new()))
    }

    /// Parses one YAML document; an empty document is an empty map.
    pub fn parse(text: &str, file: &str) -> Result<Node, String> {
        let file: Arc<str> = Arc::from(file);
        let docs = MarkedYaml::load_from_str(text).map_err(|e| {
            let m = e.marker();
            format!("{}:{}:{}: invalid YAML: {}", file, m.line(), m.col() + 1, e.info())
        })?;
        match docs.into_iter().next() {
            None => Ok(Node::empty_map()),
            Some(doc) => convert(&doc, &file),
        }
    }

    pub fn as_map(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// Follows a dotted path (map keys and sequence indexes) and returns the
    /// position of the deepest node found on the way.
    pub fn position_of(&self, path: &[String]) -> Option<Pos> {
        let mut node = self;
        let mut best = node.pos.clone();
        for seg in path {
            let next = match &node.value {
                NodeValue::Map(m) => m.iter().find(|(k, _)| k == seg).map(|(_, v)| v),
                NodeValue::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
                _ => None,
            };
            match next {
                Some(n) => {
                    node = n;
                    if n.pos.is_some() {
                        best = n.pos.clone();
                    }
                }
                None => break,
            }
        }
        best
    }

    /// Lays `other` over `self`: maps merge key by key, anything else is
    /// replaced (otelcol's rule for several `--config` sources).
    pub fn merge(&mut self, other: Node) {
        match (&mut self.value, other.value) {
            (NodeValue::Map(mine), NodeValue::Map(theirs)) => {
                for (k, v) in theirs {
                    match mine.iter_mut().find(|(mk, _)| *mk == k) {
                        Some((_, existing)) => existing.merge(v),
                        None => mine.push((k, v)),
                    }
                }
            }
            (_, value) => {
                self.value = value;
                self.pos = other.pos;
            }
        }
    }

    /// The tree as JSON, with `null` component bodies read as `{}` by callers.
    pub fn to_json(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            NodeValue::Str(s) => Value::String(s.clone()),
            NodeValue::Seq(s) => Value::Array(s.iter().map(Node::to_json).collect()),
            NodeValue::Map(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

/// Resolves a plain scalar the way YAML's core schema does (int, float, bool, null, string).
pub fn scalar_value(text: &str) -> NodeValue {
    from_scalar(&Scalar::parse_from_cow(text.into()))
}

fn from_scalar(s: &Scalar<'_>) -> NodeValue {
    match s {
        Scalar::Null => NodeValue::Null,
        Scalar::Boolean(b) => NodeValue::Bool(*b),
        Scalar::Integer(i) => NodeValue::Int(*i),
        Scalar::FloatingPoint(f) => NodeValue::Float(f.into_inner()),
        Scalar::String(s) => NodeValue::Str(s.to_string()),
    }
}

fn convert(y: &MarkedYaml<'_>, file: &Arc<str>) -> Result<Node, String> {
    let pos = Some(Pos { file: file.clone(), line: y.span.start.line(), col: y.span.start.col() + 1 });
    let value = match &y.data {
        YamlData::Value(s) => from_scalar(s),
        YamlData::Representation(text, _, _) => NodeValue::Str(text.to_string()),
        YamlData::Sequence(items) => NodeValue::Seq(items.iter().map(|i| convert(i, file)).collect::<Result<_, _>>()?),
        YamlData::Mapping(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Value(Scalar::FloatingPoint(f)) => f.to_string(),
                    YamlData::Value(Scalar::Null) => String::new(),
                    _ => return Err(format!("{}: mapping keys must be scalars", describe(&pos))),
                };
                out.push((key, convert(v, file)?));
            }
            NodeValue::Map(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, file),
        YamlData::Alias(_) => return Err(format!("{}: unresolved YAML alias", describe(&pos))),
        YamlData::BadValue => return Err(format!("{}: invalid YAML value", describe(&pos))),
    };
    Ok(Node { value, pos })
}

fn describe(pos: &Option<Pos>) -> String {
    pos.as_ref().map_or_else(|| "config".to_owned(), Pos::to_string)
}
