//! Environment expansion in string values, as otelcol's confmap does it:
//! `${env:NAME}`, `${NAME}`, `${env:NAME:-default}`, and `$$` for a literal `$`.
//! A value that is exactly one reference takes the type of what it expands to
//! (`port: ${env:PORT}` becomes an integer).

use super::node::{scalar_value, Node, NodeValue};

/// Expands every string in the tree. `lookup` reads a variable; unset
/// variables expand to an empty string and are reported in the warnings.
pub fn expand_tree(
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    errors: &mut Vec<(Option<super::node::Pos>, String)>,
) {
    root.visit_strings(&mut |node| {
        let NodeValue::Str(text) = &node.value else { return };
        if !text.contains('$') {
            return;
        }
        match expand_str(text, lookup) {
            Ok(Expanded { text: out, whole_reference, unset }) => {
                for name in unset {
                    warnings.push(format!(
                        "environment variable {name} is not set; it expands to an empty string{}",
                        node.pos.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
                    ));
                }
                node.value = if whole_reference { scalar_value(&out) } else { NodeValue::Str(out) };
            }
            Err(msg) => errors.push((node.pos.clone(), msg)),
        }
    });
}

#[derive(Debug, PartialEq)]
pub struct Expanded {
    pub text: String,
    /// the input was one `${...}` reference and nothing else
    pub whole_reference: bool,
    pub unset: Vec<String>,
}

pub fn expand_str(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, String> {
    let mut out = String::with_capacity(input.len());
    let mut unset = Vec::new();
    let mut refs = 0;
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| format!("unterminated '${{' in {input:?}"))?;
            let reference = &body[..end];
            refs += 1;
            let (name, default) = match reference.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (reference, None),
            };
            let name = match name.split_once(':') {
                Some(("env", n)) => n,
                Some((scheme, _)) => {
                    return Err(format!("unsupported config source '{scheme}:' in {input:?}; only env is supported"))
                }
                None => name,
            };
            if !valid_name(name) {
                return Err(format!("invalid environment variable name {name:?} in {input:?}"));
            }
            match lookup(name).filter(|v| !v.is_empty() || default.is_none()) {
                Some(v) => out.push_str(&v),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => unset.push(name.to_owned()),
                },
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    let trimmed = input.trim();
    let whole_reference =
        refs == 1 && trimmed.starts_with("${") && trimmed.ends_with('}') && !trimmed.starts_with("$$");
    Ok(Expanded { text: out, whole_reference, unset })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("tempo".into()),
            "PORT" => Some("4317".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ex(s: &str) -> Expanded {
        expand_str(s, &env).unwrap()
    }

    #[test]
    fn expands_every_reference_form() {
        assert_eq!(ex("${env:HOST}:${PORT}").text, "tempo:4317");
        assert_eq!(ex("${env:MISSING:-fallback}").text, "fallback");
        assert_eq!(ex("${env:EMPTY:-fallback}").text, "fallback");
        assert_eq!(ex("a$$b").text, "a$b");
        assert_eq!(ex("$$${HOST}").text, "$tempo");
        assert_eq!(ex("cost: 5$").text, "cost: 5$");
    }

    #[test]
    fn whole_reference_is_flagged_and_unset_reported() {
        assert!(ex("${env:PORT}").whole_reference);
        assert!(!ex("x${env:PORT}").whole_reference);
        let e = ex("Bearer ${TOKEN}");
        assert_eq!(e.text, "Bearer ");
        assert_eq!(e.unset, vec!["TOKEN".to_string()]);
    }

    #[test]
    fn rejects_unknown_schemes_and_bad_names() {
        assert!(expand_str("${file:/x}", &env).unwrap_err().contains("unsupported config source"));
        assert!(expand_str("${1BAD}", &env).is_err());
        assert!(expand_str("${env:HOST", &env).unwrap_err().contains("unterminated"));
    }

    #[test]
    fn whole_reference_takes_the_type_of_its_value() {
        let mut root = Node::parse("port: ${env:PORT}\nname: x-${env:PORT}\n", "t.yaml").unwrap();
        let (mut w, mut e) = (Vec::new(), Vec::new());
        expand_tree(&mut root, &env, &mut w, &mut e);
        assert_eq!(root.to_json(), serde_json::json!({"port": 4317, "name": "x-4317"}));
        assert!(w.is_empty() && e.is_empty());
    }
}
