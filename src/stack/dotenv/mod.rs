//! The one reader of a stack project's `.env`, with the rules Docker Compose
//! v2 applies (compose-go's `dotenv` package, documented at
//! docs.docker.com/compose/environment-variables/variable-interpolation/):
//!
//! - `KEY=value` (also `KEY: value`), optionally after `export `; blank lines
//!   and lines starting with `#` are skipped; `\r\n` line ends are fine.
//! - Unquoted values end at the line end, lose trailing whitespace, and a
//!   ` #` (space, then `#`) starts a comment: `A=b#c` is `b#c`.
//! - `'single'` quotes are literal except `\'`; `"double"` quotes take the
//!   shell escapes `\n \t \r \a \b \f \v \\ \" \$` and `\0` plus three octal
//!   digits; both may span lines; after the closing quote only a comment may
//!   follow.
//! - Unquoted and double-quoted values are interpolated
//!   ([`interpolate`]): `${VAR}`, `$VAR`, `${VAR:-default}` and the other
//!   forms, looked up in the process environment first, then in the lines
//!   read so far. A line with only `KEY` takes KEY from the environment.
//!
//! Where Compose v1 (docker-compose 1.29, which reads `.env` with
//! python-dotenv) differs, this follows v2: v1 interpolates inside single
//! quotes, knows only `${VAR}` and `${VAR:-default}` (and treats an empty
//! value as set there), keeps `$$`, lets a tab start a comment and prefers
//! the file's values over the environment inside `${...}`. A line Compose v2
//! refuses is an error here too, with its line number; so is text after a
//! closing quote, which v2 would read as a second statement.
//!
//! Why not the `dotenvy` crate: it follows shell rules instead: an unquoted
//! value with a space (`A=two words`) or spaces around `=` is an error,
//! `\t` in double quotes is an invalid escape, `${VAR:-default}` is not
//! supported, and the environment wins over earlier lines in substitution.
//! Each of those would make stackctl disagree with the compose it drives.

mod interpolate;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use interpolate::interpolate;

/// Variables by name, as Compose reads them from the file.
pub type Vars = BTreeMap<String, String>;

/// A line Compose would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads `path` with the process environment for lookups; `Ok(None)` when
/// there is no such file. Errors are sentences naming the file.
pub fn read(path: &Path) -> Result<Option<Vars>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    parse(&text, &|k| std::env::var(k).ok()).map(Some).map_err(|e| {
        format!("{}, {e}; fix that line (Compose reads the file the same way and would refuse it too)", path.display())
    })
}

/// Parses `.env` text; `env` answers lookups in the process environment.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vars, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    Parser { rest: text, line: 1, out: Vars::new() }.run(env)
}

/// Space that is not a line break (compose-go's `isSpace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r' | '\u{85}' | '\u{a0}')
}

fn is_key_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
}

struct Parser<'a> {
    rest: &'a str,
    line: usize,
    out: Vars,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error { line: self.line, message: message.into() }
    }

    /// Moves past `n` bytes, counting line breaks.
    fn advance(&mut self, n: usize) {
        self.line += self.rest[..n].matches('\n').count();
        self.rest = &self.rest[n..];
    }

    fn skip_while(&mut self, f: impl Fn(char) -> bool) {
        let n = self.rest.find(|c| !f(c)).unwrap_or(self.rest.len());
        self.advance(n);
    }

    fn run(mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<Vars, Error> {
        loop {
            self.skip_while(char::is_whitespace);
            if self.rest.is_empty() {
                return Ok(self.out);
            }
            if self.rest.starts_with('#') {
                self.skip_while(|c| c != '\n');
                continue;
            }
            self.statement(env)?;
        }
    }

    fn statement(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
        if let Some(after) = self.rest.strip_prefix("export") {
            if after.starts_with([' ', '\t']) {
                self.advance("export".len());
                self.skip_while(is_space);
            }
        }
        let statement = self.rest.lines().next().unwrap_or_default().trim_end();
        let key_len = self.rest.find(|c| !is_key_char(c)).unwrap_or(self.rest.len());
        let key = self.rest[..key_len].to_owned();
        self.advance(key_len);
        self.skip_while(is_space);
        let next = self.rest.chars().next();
        if key.is_empty() {
            return Err(match next {
                Some('=' | ':') => self.err("a variable name is missing before the '='"),
                _ => self.err(format!("{statement:?} is not a KEY=value line")),
            });
        }
        match next {
            None | Some('\n') => {
                // `KEY` alone: taken from the environment, if set there
                if let Some(v) = env(&key) {
                    self.out.insert(key, v);
                }
                return Ok(());
            }
            Some('=' | ':') => self.advance(1),
            Some(c) => {
                return Err(self.err(format!(
                    "unexpected character {c:?} in the variable name {statement:?}; \
                     names use letters, digits, '_', '.' and '-'"
                )))
            }
        }
        self.skip_while(is_space);
        let value = match self.rest.chars().next() {
            Some(q @ ('\'' | '"')) => self.quoted(&key, q, env)?,
            _ => self.unquoted(env)?,
        };
        self.out.insert(key, value);
        Ok(())
    }

    fn expand(&self, raw: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
        let get = |k: &str| env(k).or_else(|| self.out.get(k).cloned());
        interpolate(raw, &get).map_err(|e| self.err(e))
    }

    fn unquoted(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
        let end = self.rest.find('\n').unwrap_or(self.rest.len());
        let raw = &self.rest[..end];
        let raw = raw.split(" #").next().unwrap_or_default().trim_end();
        let value = self.expand(raw, env)?;
        self.advance(end);
        Ok(value)
    }

    fn quoted(&mut self, key: &str, quote: char, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Error> {
        let start_line = self.line;
        let mut raw = String::new();
        let mut escaped = false;
        let mut close = None;
        for (i, c) in self.rest.char_indices().skip(1) {
            if escaped {
                escaped = false;
                // `\'` / `\"` lose the backslash; other escapes are decoded below
                if c != quote {
                    raw.push('\\');
                }
                raw.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == quote {
                close = Some(i);
                break;
            } else {
                raw.push(c);
            }
        }
        let Some(close) = close else {
            return Err(self.err(format!("the value of {key} opens a {quote} quote that is never closed")));
        };
        self.advance(close + 1);
        self.skip_while(is_space);
        match self.rest.chars().next() {
            None | Some('\n') => {}
            Some('#') => self.skip_while(|c| c != '\n'),
            Some(_) => {
                return Err(Error {
                    line: start_line,
                    message: format!(
                        "unexpected text after the closing quote of {key}; put the whole value inside the quotes"
                    ),
                })
            }
        }
        if quote == '\'' {
            return Ok(raw);
        }
        self.expand(&unescape(&raw), env)
    }
}

/// Decodes the shell escapes Compose knows in double quotes; `\$` becomes
/// `$$`, which interpolation then reads as a literal `$`. Other backslashes stay.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let simple = match after.chars().next() {
            Some('a') => Some("\u{7}"),
            Some('b') => Some("\u{8}"),
            Some('f') => Some("\u{c}"),
            Some('n') => Some("\n"),
            Some('r') => Some("\r"),
            Some('t') => Some("\t"),
            Some('v') => Some("\u{b}"),
            Some('"') => Some("\""),
            Some('\\') => Some("\\"),
            Some('$') => Some("$$"),
            _ => None,
        };
        if let Some(s) = simple {
            out.push_str(s);
            rest = &after[1..];
        } else if let Some(c) = octal(after) {
            out.push(c);
            rest = &after[4..];
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `0` and three octal digits up to 0377 (`\0101` is `A`); compose-go
/// leaves every other `\0...` as written.
fn octal(after: &str) -> Option<char> {
    let digits = after.strip_prefix('0')?;
    let run = digits.bytes().take_while(u8::is_ascii_digit).take(3).count();
    if run != 3 {
        return None;
    }
    let v = u32::from_str_radix(&digits[..3], 8).ok().filter(|v| *v <= 0o377)?;
    char::from_u32(v)
}

#[cfg(test)]
mod tests;
