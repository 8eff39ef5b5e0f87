//! Fields (stanza's `entry.Field`): `body`, `body.a.b`, `attributes.x`,
//! `attributes["k8s.pod.name"]`, `resource.x`; a field without one of those
//! roots is under `body`. Get, set and delete a value in an [`Entry`].

use std::fmt;

use serde_json::{Map, Value};

use super::entry::Entry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Body,
    Attributes,
    Resource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub root: Root,
    pub keys: Vec<String>,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.root {
            Root::Body => "body",
            Root::Attributes => "attributes",
            Root::Resource => "resource",
        })?;
        for k in &self.keys {
            if k.contains('.') || k.contains('[') {
                write!(f, "[\"{k}\"]")?;
            } else {
                write!(f, ".{k}")?;
            }
        }
        Ok(())
    }
}

impl Field {
    pub fn body() -> Field {
        Field { root: Root::Body, keys: Vec::new() }
    }

    pub fn attributes() -> Field {
        Field { root: Root::Attributes, keys: Vec::new() }
    }

    pub fn parse(s: &str) -> Result<Field, String> {
        let parts = split(s)?;
        let (root, keys) = match parts.first().map(String::as_str) {
            Some("body") => (Root::Body, parts[1..].to_vec()),
            Some("attributes") => (Root::Attributes, parts[1..].to_vec()),
            Some("resource") => (Root::Resource, parts[1..].to_vec()),
            _ => (Root::Body, parts),
        };
        Ok(Field { root, keys })
    }

    fn map_mut<'a>(&self, e: &'a mut Entry) -> Option<&'a mut Map<String, Value>> {
        match self.root {
            Root::Body => e.body.as_object_mut(),
            Root::Attributes => Some(&mut e.attributes),
            Root::Resource => Some(&mut e.resource),
        }
    }

    pub fn get<'a>(&self, e: &'a Entry) -> Option<&'a Value> {
        let (first, rest) = match self.root {
            Root::Body => return self.keys.iter().try_fold(&e.body, |v, k| v.as_object()?.get(k)),
            Root::Attributes => (&e.attributes, &self.keys),
            Root::Resource => (&e.resource, &self.keys),
        };
        let (k0, rest) = rest.split_first()?;
        rest.iter().try_fold(first.get(k0)?, |v, k| v.as_object()?.get(k))
    }

    /// Sets the value, creating maps on the way (a non-map in the way is
    /// replaced, as stanza does); a map set at `attributes` or `resource`
    /// is merged into it.
    pub fn set(&self, e: &mut Entry, value: Value) -> Result<(), String> {
        if self.keys.is_empty() {
            return match self.root {
                Root::Body => {
                    e.body = value;
                    Ok(())
                }
                _ => match value {
                    Value::Object(m) => {
                        self.map_mut(e).expect("attributes or resource").extend(m);
                        Ok(())
                    }
                    other => Err(format!("cannot set {self} to a {}: it takes a map", kind(&other))),
                },
            };
        }
        if self.root == Root::Body && !e.body.is_object() {
            e.body = Value::Object(Map::new());
        }
        let mut map = self.map_mut(e).expect("a map");
        let (last, path) = self.keys.split_last().expect("keys");
        for k in path {
            let slot = map.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = slot.as_object_mut().expect("a map");
        }
        map.insert(last.clone(), value);
        Ok(())
    }

    /// Removes and returns the value, if it was there.
    pub fn delete(&self, e: &mut Entry) -> Option<Value> {
        if self.keys.is_empty() {
            return match self.root {
                Root::Body => Some(std::mem::take(&mut e.body)).filter(|v| !v.is_null()),
                _ => {
                    let m = std::mem::take(self.map_mut(e).expect("a map"));
                    (!m.is_empty()).then_some(Value::Object(m))
                }
            };
        }
        let mut map = self.map_mut(e)?;
        let (last, path) = self.keys.split_last().expect("keys");
        for k in path {
            map = map.get_mut(k)?.as_object_mut()?;
        }
        map.remove(last)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

/// Splits at dots outside brackets; `["a.b"]` and `['a.b']` are one key.
fn split(s: &str) -> Result<Vec<String>, String> {
    let bad = || format!("{s:?} is not a field; write body.key, attributes.key or attributes[\"key.with.dots\"]");
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if cur.is_empty() {
                    return Err(bad());
                }
                parts.push(std::mem::take(&mut cur));
            }
            '[' => {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
                let quote = chars.next().filter(|q| *q == '"' || *q == '\'').ok_or_else(bad)?;
                let key: String = chars.by_ref().take_while(|c| *c != quote).collect();
                if chars.next() != Some(']') {
                    return Err(bad());
                }
                parts.push(key);
                if chars.peek() == Some(&'.') {
                    chars.next();
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    } else if s.ends_with('.') || s.is_empty() {
        return Err(bad());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(s: &str) -> Field {
        Field::parse(s).unwrap()
    }

    #[test]
    fn parses_roots_dots_and_brackets() {
        assert_eq!(f("body"), Field::body());
        assert_eq!(f("message"), Field { root: Root::Body, keys: vec!["message".into()] });
        assert_eq!(f("attributes[\"k8s.pod.name\"]").keys, vec!["k8s.pod.name"]);
        assert_eq!(f("resource['a.b'].c").keys, vec!["a.b", "c"]);
        assert_eq!(f("attributes.env").to_string(), "attributes.env");
        assert_eq!(f("attributes[\"a.b\"]").to_string(), "attributes[\"a.b\"]");
        assert!(Field::parse("body..x").is_err());
        assert!(Field::parse("").is_err());
        assert!(Field::parse("attributes[a]").is_err());
    }

    /// The table of pkg/stanza/docs/types/field.md ("Using fields to refer to various values").
    #[test]
    fn upstream_field_examples() {
        let e = Entry {
            resource: json!({"uuid": "11112222-3333-4444-5555-666677778888"}).as_object().unwrap().clone(),
            attributes: json!({"env": "prod"}).as_object().unwrap().clone(),
            body: json!({"message": "Something happened.", "details": {"count": 100, "reason": "event"}}),
            ..Default::default()
        };
        assert_eq!(f("body.message").get(&e), Some(&json!("Something happened.")));
        assert_eq!(f("message").get(&e), Some(&json!("Something happened.")));
        assert_eq!(f("body.details.count").get(&e), Some(&json!(100)));
        assert_eq!(f("attributes.env").get(&e), Some(&json!("prod")));
        assert_eq!(f("resource.uuid").get(&e), Some(&json!("11112222-3333-4444-5555-666677778888")));
        assert_eq!(f("attributes.nope").get(&e), None);
    }

    #[test]
    fn set_creates_maps_and_merges_at_the_root() {
        let mut e = Entry::new("line".into(), 0);
        f("body.a.b").set(&mut e, json!(1)).unwrap();
        assert_eq!(e.body, json!({"a": {"b": 1}}));
        e.attributes.insert("log.file.name".into(), json!("x.log"));
        f("attributes").set(&mut e, json!({"k": "v"})).unwrap();
        assert_eq!(Value::Object(e.attributes.clone()), json!({"log.file.name": "x.log", "k": "v"}));
        assert!(f("attributes").set(&mut e, json!("s")).unwrap_err().contains("takes a map"));
        assert_eq!(f("body.a.b").delete(&mut e), Some(json!(1)));
        assert_eq!(f("body.a.b").delete(&mut e), None);
        assert_eq!(f("body").delete(&mut e), Some(json!({"a": {}})));
        assert!(e.body.is_null());
    }
}
