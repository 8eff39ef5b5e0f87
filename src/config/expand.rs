//! Config sources inside values, as otelcol's confmap resolves them:
//! `${env:NAME}` (and `${NAME}`, `${env:NAME:-default}`), `${file:PATH}`
//! (the file's contents), `${yaml:INLINE}`, and `$$` for a literal `$`.
//! References nest (`${file:${env:DIR}/token}`, innermost first) and what a
//! source returns is expanded again (a file may hold `${env:...}`). A value
//! that is exactly one reference takes the YAML type of what it expands to
//! (`port: ${env:PORT}` is an integer, `${file:extra.yaml}` can be a
//! mapping); inside a longer string a reference is its raw text, so a file's
//! trailing newline is kept there, as otelcol's string representation does.

use super::node::{scalar_value, Node, NodeValue};

/// Expansions nested or chained deeper than this are a loop (a file that
/// refers to itself), reported rather than followed.
const MAX_DEPTH: usize = 100;

/// The config sources otelstack-collector resolves, for error sentences.
const SCHEMES: &str = "env, file and yaml";

/// Expands every string in the tree. `lookup` reads a variable; unset
/// variables expand to an empty string and are reported in the warnings.
pub fn expand_tree(
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    errors: &mut Vec<(Option<super::node::Pos>, String)>,
) {
    expand_tree_at(root, lookup, warnings, errors, 0);
}

fn expand_tree_at(
    root: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    errors: &mut Vec<(Option<super::node::Pos>, String)>,
    depth: usize,
) {
    visit_strings(root, &mut Vec::new(), &mut |node, path| {
        let NodeValue::Str(text) = &node.value else { return };
        if !text.contains('$') {
            return;
        }
        match expand_at(text, lookup, depth) {
            Ok(Expanded { text: out, whole_reference, unset }) => {
                for name in unset {
                    warnings.push(format!(
                        "environment variable {name} is not set; it expands to an empty string{}",
                        node.pos.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
                    ));
                }
                if !whole_reference {
                    node.value = NodeValue::Str(out);
                    return;
                }
                match typed(&out) {
                    Some(mut tree) => {
                        // the positions of a retrieved document are its own; keep the reference's
                        set_pos(&mut tree, &node.pos);
                        expand_tree_at(&mut tree, lookup, warnings, errors, depth + 1);
                        node.value = tree.value;
                    }
                    None => node.value = scalar_value(out.trim_end_matches(['\n', '\r'])),
                }
            }
            // the key path leads, as every other config error does
            Err(msg) if path.is_empty() => errors.push((node.pos.clone(), msg)),
            Err(msg) => errors.push((node.pos.clone(), format!("{}: {msg}", path.join(".")))),
        }
    });
}

/// Visits every string scalar with its key path.
fn visit_strings(node: &mut Node, path: &mut Vec<String>, f: &mut dyn FnMut(&mut Node, &[String])) {
    match &mut node.value {
        NodeValue::Str(_) => f(node, path),
        NodeValue::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(i.to_string());
                visit_strings(item, path, f);
                path.pop();
            }
        }
        NodeValue::Map(entries) => {
            for (key, value) in entries.iter_mut() {
                path.push(key.clone());
                visit_strings(value, path, f);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A whole reference that expanded to a YAML mapping or sequence.
fn typed(text: &str) -> Option<Node> {
    let trimmed = text.trim_start();
    if !(trimmed.contains(": ") || trimmed.contains(":\n") || trimmed.starts_with(['-', '[', '{'])) {
        return None;
    }
    Node::parse(text, "<expanded>").ok().filter(|n| matches!(n.value, NodeValue::Map(_) | NodeValue::Seq(_)))
}

fn set_pos(node: &mut Node, pos: &Option<super::node::Pos>) {
    node.pos = pos.clone();
    match &mut node.value {
        NodeValue::Seq(s) => s.iter_mut().for_each(|n| set_pos(n, pos)),
        NodeValue::Map(m) => m.iter_mut().for_each(|(_, n)| set_pos(n, pos)),
        _ => {}
    }
}

#[derive(Debug, PartialEq)]
pub struct Expanded {
    pub text: String,
    /// the input was one `${...}` reference and nothing else
    pub whole_reference: bool,
    pub unset: Vec<String>,
}

pub fn expand_str(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Expanded, String> {
    expand_at(input, lookup, 0)
}

fn expand_at(input: &str, lookup: &dyn Fn(&str) -> Option<String>, depth: usize) -> Result<Expanded, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "too many nested or recursive expansions in {input:?}; a file or variable probably refers to itself"
        ));
    }
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
        } else if after.starts_with('{') {
            let end = closing_brace(after).ok_or_else(|| format!("unterminated '${{' in {input:?}"))?;
            refs += 1;
            let mut body = after[1..end].to_owned();
            if body.contains('$') {
                // nested references resolve first, innermost out
                let inner = expand_at(&body, lookup, depth + 1)?;
                unset.extend(inner.unset);
                body = inner.text;
            }
            let mut value = resolve(&body, lookup, &mut unset, input)?;
            if value.contains("${") {
                // what a source returns may hold references of its own
                let again = expand_at(&value, lookup, depth + 1)?;
                unset.extend(again.unset);
                value = again.text;
            }
            out.push_str(&value);
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    let trimmed = input.trim();
    let whole_reference = refs == 1
        && trimmed.starts_with("${")
        && closing_brace(&trimmed[1..]).is_some_and(|end| end + 2 == trimmed.len());
    Ok(Expanded { text: out, whole_reference, unset })
}

/// The index in `s` (which starts with `{`) of the `}` closing it, skipping
/// nested `${...}` and `$$`.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let (mut depth, mut i) = (0usize, 1usize);
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// What one reference (the text between `${` and `}`) stands for.
fn resolve(
    body: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    input: &str,
) -> Result<String, String> {
    let (scheme, opaque) = match body.split_once(':') {
        // `${NAME:-default}` is the bare environment form with a default
        Some((_, rest)) if rest.starts_with('-') && !body.starts_with("env:") => ("env", body),
        Some((scheme, rest)) if valid_scheme(scheme) => (scheme, rest),
        Some(_) => return Err(format!("invalid reference ${{{body}}} in {input:?}; write ${{scheme:value}}")),
        None => ("env", body),
    };
    match scheme {
        "env" => {
            let (name, default) = match opaque.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (opaque, None),
            };
            if !valid_name(name) {
                return Err(format!("invalid environment variable name {name:?} in {input:?}"));
            }
            Ok(match lookup(name).filter(|v| !v.is_empty() || default.is_none()) {
                Some(v) => v,
                None => match default {
                    Some(d) => d.to_owned(),
                    None => {
                        unset.push(name.to_owned());
                        String::new()
                    }
                },
            })
        }
        "file" => std::fs::read_to_string(opaque).map_err(|e| {
            format!("cannot read {opaque:?} for ${{file:{opaque}}}: {e}; check the path (relative paths start at the working directory)")
        }),
        "yaml" => Ok(opaque.to_owned()),
        other => Err(format!(
            "unsupported config source '{other}:' in {input:?}; otelstack-collector resolves {SCHEMES} (as otelcol's providers); \
             for a remote document, fetch it first and use ${{file:PATH}}"
        )),
    }
}

/// otelcol's scheme pattern: a letter, then letters, digits, `+`, `.`, `-`.
fn valid_scheme(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
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
        let e = expand_str("${https:example.com/c.yaml}", &env).unwrap_err();
        assert!(e.contains("unsupported config source 'https:'") && e.contains("${file:PATH}"), "{e}");
        assert!(expand_str("${file:/nonexistent/x}", &env).unwrap_err().contains("cannot read \"/nonexistent/x\""));
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

    fn temp_file(name: &str, content: &str) -> String {
        let dir = std::env::temp_dir().join(format!("otelstack-expand-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    fn expand_yaml(yaml: &str) -> (serde_json::Value, Vec<String>, Vec<String>) {
        let mut root = Node::parse(yaml, "t.yaml").unwrap();
        let (mut w, mut e) = (Vec::new(), Vec::new());
        expand_tree(&mut root, &env, &mut w, &mut e);
        (root.to_json(), w, e.into_iter().map(|(_, m)| m).collect())
    }

    #[test]
    fn file_contents_keep_their_newline_inside_a_string_and_take_their_type_alone() {
        let token = temp_file("token", "s3cr3t\n");
        let (json, w, e) = expand_yaml(&format!("whole: ${{file:{token}}}\nembedded: Bearer ${{file:{token}}}\n"));
        assert!(w.is_empty() && e.is_empty(), "{w:?} {e:?}");
        assert_eq!(json, serde_json::json!({"whole": "s3cr3t", "embedded": "Bearer s3cr3t\n"}));
        let port = temp_file("port", "4317\n");
        assert_eq!(expand_yaml(&format!("port: ${{file:{port}}}")).0, serde_json::json!({"port": 4317}));
    }

    #[test]
    fn a_file_can_hold_a_mapping_with_references_of_its_own() {
        let extra = temp_file("extra.yaml", "endpoint: ${env:HOST}:${env:PORT}\ntls:\n  insecure: true\n");
        let (json, _, e) = expand_yaml(&format!("otlp: ${{file:{extra}}}\n"));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(json, serde_json::json!({"otlp": {"endpoint": "tempo:4317", "tls": {"insecure": true}}}));
    }

    #[test]
    fn references_nest_innermost_first_and_loops_are_refused() {
        let dir = temp_file("nested", "deep\n");
        let dir = dir.strip_suffix("/nested").unwrap();
        let e = expand_str(&format!("x-${{file:{dir}/${{env:NAME_FILE:-nested}}}}"), &env).unwrap();
        assert_eq!(e.text, "x-deep\n");
        let looped = temp_file("loop", "${file:PLACEHOLDER}");
        std::fs::write(&looped, format!("${{file:{looped}}}")).unwrap();
        let err = expand_str(&format!("${{file:{looped}}}"), &env).unwrap_err();
        assert!(err.contains("too many nested or recursive expansions"), "{err}");
    }

    #[test]
    fn inline_yaml_and_escapes() {
        let (json, _, e) = expand_yaml("list: ${yaml:[a, b]}\nmap: '${yaml:k: 1}'\nlit: $${env:HOST}\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(json, serde_json::json!({"list": ["a", "b"], "map": {"k": 1}, "lit": "${env:HOST}"}));
        assert!(!ex("$${env:HOST}").whole_reference);
        assert!(!ex("${env:HOST}${env:PORT}").whole_reference);
        // as otelcol, the first `}` ends a reference: inline flow mappings cannot be written this way
        assert!(!ex("${yaml:{k: 1}}").whole_reference);
    }
}
