//! Component ids (`type` or `type/name`), shared by the contract, the
//! host's extension lookup and the service graph.

use std::fmt;

/// A component id: `type` or `type/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ComponentId {
    pub type_name: String,
    pub name: Option<String>,
}

impl ComponentId {
    pub fn parse(s: &str) -> Result<ComponentId, String> {
        let (t, n) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let valid = |x: &str| !x.is_empty() && x.chars().all(|c| !c.is_whitespace() && c != '/');
        if !valid(t) || n.is_some_and(|n| !valid(n)) {
            return Err(format!("invalid component id {s:?}: use \"type\" or \"type/name\""));
        }
        Ok(ComponentId { type_name: t.to_owned(), name: n.map(str::to_owned) })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.type_name, n),
            None => f.write_str(&self.type_name),
        }
    }
}
