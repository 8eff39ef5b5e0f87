//! Compose's `${...}` interpolation inside `.env` values (compose-go's
//! `template` package): `$$` is a literal `$`; `$NAME` and `${NAME}` are
//! replaced, an unknown name by the empty string; `${NAME:-word}` /
//! `${NAME-word}` give a default when NAME is unset or empty / unset;
//! `${NAME:+word}` / `${NAME+word}` the opposite; `${NAME:?message}` /
//! `${NAME?message}` make a missing value an error. `word` may itself hold
//! `${...}`. A `$` followed by anything else stays as it is.

/// Replaces every reference in `text`; `get` answers a name's value.
pub fn interpolate(text: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let close = matching_brace(inner)
                .ok_or_else(|| format!("\"${{{inner}\" has no closing '}}'; close it or write $$ for a literal $"))?;
            out.push_str(&braced(&inner[..close], get)?);
            rest = &inner[close + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(&get(&after[..len]).unwrap_or_default());
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length of the variable name at the start of `s` (`[_A-Za-z][_A-Za-z0-9]*`).
fn name_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if c == '_' || c.is_ascii_alphabetic() => {}
        _ => return 0,
    }
    chars.find(|(_, c)| !(*c == '_' || c.is_ascii_alphanumeric())).map_or(s.len(), |(i, _)| i)
}

/// Index of the `}` closing a `${`, skipping nested `${...}` in a default.
fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The inside of `${...}`: a name, then optionally an operator and a word.
fn braced(inner: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let len = name_len(inner);
    let invalid = || format!("\"${{{inner}}}\" is not a valid reference; use ${{NAME}} or ${{NAME:-default}}");
    if len == 0 {
        return Err(invalid());
    }
    let (name, op) = inner.split_at(len);
    let value = get(name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let word = |w: &str| interpolate(w, get);
    let (colon, op) = match op.strip_prefix(':') {
        Some(o) => (true, o),
        None => (false, op),
    };
    // with `:` an empty value counts as missing
    let present = if colon { non_empty } else { set };
    match op.chars().next() {
        None if !colon => Ok(value.unwrap_or_default()),
        Some('-') => {
            if present {
                Ok(value.unwrap_or_default())
            } else {
                word(&op[1..])
            }
        }
        Some('+') => {
            if present {
                word(&op[1..])
            } else {
                Ok(String::new())
            }
        }
        Some('?') if present => Ok(value.unwrap_or_default()),
        Some('?') => {
            let why = word(&op[1..])?;
            Err(format!(
                "required variable {name} is missing a value{}",
                if why.is_empty() { String::new() } else { format!(": {why}") }
            ))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Result<String, String> {
        let get = |k: &str| match k {
            "SET" => Some("v".to_owned()),
            "EMPTY" => Some(String::new()),
            "lower_1" => Some("l".to_owned()),
            _ => None,
        };
        interpolate(text, &get)
    }

    #[test]
    fn names_braces_and_escapes() {
        assert_eq!(run("a${SET}b$SET.c").unwrap(), "avbv.c");
        assert_eq!(run("$lower_1/${lower_1}").unwrap(), "l/l");
        assert_eq!(run("[${UNSET}][$UNSET]").unwrap(), "[][]");
        assert_eq!(run("cost $$5 and $5, $ and $").unwrap(), "cost $5 and $5, $ and $");
        assert_eq!(run("$$SET").unwrap(), "$SET");
        assert_eq!(run("$SETx").unwrap(), "", "the name runs to the first non-name character");
    }

    #[test]
    fn defaults_alternatives_and_required() {
        assert_eq!(run("${UNSET:-d} ${EMPTY:-d} ${SET:-d}").unwrap(), "d d v");
        assert_eq!(run("${UNSET-d} ${EMPTY-d} ${SET-d}").unwrap(), "d  v");
        assert_eq!(run("${UNSET:+a} ${EMPTY:+a} ${SET:+a}").unwrap(), "  a");
        assert_eq!(run("${UNSET+a} ${EMPTY+a} ${SET+a}").unwrap(), " a a");
        assert_eq!(run("${UNSET:-${SET}-x}").unwrap(), "v-x", "nested in a default");
        assert_eq!(run("${UNSET:-}").unwrap(), "");
        assert_eq!(run("${SET:?boom}").unwrap(), "v");
        assert_eq!(run("${EMPTY:?set EMPTY}").unwrap_err(), "required variable EMPTY is missing a value: set EMPTY");
        assert_eq!(run("${EMPTY?x}").unwrap(), "");
        assert_eq!(run("${UNSET?}").unwrap_err(), "required variable UNSET is missing a value");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(run("${SET").unwrap_err().contains("no closing '}'"));
        assert!(run("${}").unwrap_err().contains("is not a valid reference"));
        assert!(run("${1X}").unwrap_err().contains("is not a valid reference"));
        assert!(run("${SET:}").unwrap_err().contains("is not a valid reference"));
        assert!(run("${SET*x}").unwrap_err().contains("is not a valid reference"));
    }
}
