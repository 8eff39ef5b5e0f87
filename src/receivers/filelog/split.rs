//! Cutting a file's unread bytes into entries (fileconsumer's split funcs
//! and `trim`): one entry per line by default, or per `multiline` pattern;
//! entries longer than `max_log_size` are cut; whitespace is trimmed unless
//! `preserve_*_whitespaces` says otherwise. The incomplete tail stays unread
//! until more data completes it or the caller flushes it.

use regex::bytes::Regex;

use super::config::{FileLogConfig, MultilineConfig};

enum Mode {
    Lines,
    /// a new entry starts where the pattern matches
    Start(Regex),
    /// an entry ends where the pattern's match ends
    End(Regex),
}

pub struct Splitter {
    mode: Mode,
    omit_pattern: bool,
    max: usize,
    trim_leading: bool,
    trim_trailing: bool,
}

/// Complete entries and how many bytes of the input they used.
#[derive(Debug, PartialEq)]
pub struct Split {
    pub tokens: Vec<Vec<u8>>,
    pub consumed: usize,
}

impl Splitter {
    /// Patterns are compiled multi-line, so `^` and `$` anchor at each line
    /// of the buffer, as upstream's examples (`^Exception`) expect.
    pub fn new(c: &FileLogConfig) -> Result<Splitter, String> {
        let compile = |p: &str| Regex::new(&format!("(?m){p}")).map_err(|e| e.to_string());
        let (mode, omit_pattern) = match &c.multiline {
            None => (Mode::Lines, false),
            Some(MultilineConfig { line_start_pattern: Some(p), omit_pattern, .. }) => {
                (Mode::Start(compile(p)?), *omit_pattern)
            }
            Some(MultilineConfig { line_end_pattern: Some(p), omit_pattern, .. }) => {
                (Mode::End(compile(p)?), *omit_pattern)
            }
            Some(_) => return Err("multiline needs line_start_pattern or line_end_pattern".into()),
        };
        Ok(Splitter {
            mode,
            omit_pattern,
            max: c.max_log_size.0.max(1) as usize,
            trim_leading: !c.preserve_leading_whitespaces,
            trim_trailing: !c.preserve_trailing_whitespaces,
        })
    }

    /// Cuts `data` (the bytes after the file's offset). With `flush`, the
    /// incomplete tail is an entry too.
    pub fn split(&self, data: &[u8], flush: bool) -> Split {
        let mut raw: Vec<(usize, usize)> = Vec::new(); // token ranges
        let mut consumed = 0;
        match &self.mode {
            Mode::Lines => {
                for (i, b) in data.iter().enumerate() {
                    if *b == b'\n' {
                        raw.push((consumed, i));
                        consumed = i + 1;
                    }
                }
            }
            Mode::Start(re) => {
                let starts: Vec<usize> = re.find_iter(data).map(|m| m.start()).collect();
                for s in starts {
                    if s > consumed {
                        raw.push((consumed, s));
                        consumed = s;
                    }
                }
            }
            Mode::End(re) => {
                for m in re.find_iter(data) {
                    if m.end() > consumed {
                        raw.push((consumed, m.end()));
                        consumed = m.end();
                    }
                }
            }
        }
        if flush && consumed < data.len() {
            raw.push((consumed, data.len()));
            consumed = data.len();
        }
        let mut tokens = Vec::new();
        for (a, b) in raw {
            self.push(&data[a..b], &mut tokens);
        }
        // an entry that outgrew max_log_size is cut rather than waited for
        while data.len() - consumed >= self.max {
            self.push(&data[consumed..consumed + self.max], &mut tokens);
            consumed += self.max;
        }
        Split { tokens, consumed }
    }

    fn push(&self, token: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut t = token;
        if self.omit_pattern {
            let m = match &self.mode {
                Mode::Start(re) => re.find(t).filter(|m| m.start() == 0).map(|m| (m.end(), t.len())),
                Mode::End(re) => re.find_iter(t).last().filter(|m| m.end() == t.len()).map(|m| (0, m.start())),
                Mode::Lines => None,
            };
            if let Some((a, b)) = m {
                t = &t[a..b];
            }
        }
        if matches!(self.mode, Mode::Lines) && t.last() == Some(&b'\r') {
            t = &t[..t.len() - 1];
        }
        if self.trim_leading {
            t = &t[t.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(t.len())..];
        }
        if self.trim_trailing {
            t = &t[..t.iter().rposition(|b| !b.is_ascii_whitespace()).map(|i| i + 1).unwrap_or(0)];
        }
        if t.is_empty() {
            return;
        }
        for chunk in t.chunks(self.max) {
            out.push(chunk.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::parse_section;
    use serde_json::json;

    fn splitter(extra: serde_json::Value) -> Splitter {
        let mut v = json!({"include": ["x"]});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        Splitter::new(&parse_section::<FileLogConfig>(v).unwrap()).unwrap()
    }

    fn strings(s: &Split) -> Vec<String> {
        s.tokens.iter().map(|t| String::from_utf8_lossy(t).into_owned()).collect()
    }

    #[test]
    fn lines_wait_for_their_newline_unless_flushed() {
        let s = splitter(json!({}));
        let out = s.split(b"one\r\n  two  \n\nthr", false);
        assert_eq!(strings(&out), ["one", "two"]);
        assert_eq!(out.consumed, 14);
        let out = s.split(b"thr", true);
        assert_eq!((strings(&out), out.consumed), (vec!["thr".to_owned()], 3));
        let keep = splitter(json!({"preserve_leading_whitespaces": true, "preserve_trailing_whitespaces": true}));
        assert_eq!(strings(&keep.split(b"  two  \n", false)), ["  two  "]);
    }

    /// receiver/filelogreceiver/README.md, "Example - Multiline logs parsing".
    #[test]
    fn line_start_pattern_upstream_example() {
        let s = splitter(json!({"multiline": {"line_start_pattern": "^Exception"}}));
        let text = "Exception in thread 1 \"main\" java.lang.NullPointerException\n        at com.example.myproject.Book.getTitle(Book.java:16)\n        at com.example.myproject.Author.getBookTitles(Author.java:25)\n        at com.example.myproject.Bootstrap.main(Bootstrap.java:14)\nException in thread 2 \"main\" java.lang.NullPointerException\n        at com.example.myproject.Book.getTitle(Book.java:16)\n        at com.example.myproject.Author.getBookTitles(Author.java:25)\n        at com.example.myproject.Bootstrap.main(Bootstrap.java:44)\n";
        let out = s.split(text.as_bytes(), false);
        assert_eq!(out.tokens.len(), 1, "the second entry is not complete yet");
        assert!(
            strings(&out)[0].starts_with("Exception in thread 1") && strings(&out)[0].ends_with("Bootstrap.java:14)")
        );
        let rest = s.split(&text.as_bytes()[out.consumed..], true);
        assert_eq!(rest.tokens.len(), 1);
        assert!(
            strings(&rest)[0].starts_with("Exception in thread 2") && strings(&rest)[0].ends_with("Bootstrap.java:44)")
        );
    }

    #[test]
    fn line_end_pattern_and_omit_pattern() {
        let s = splitter(json!({"multiline": {"line_end_pattern": "END$"}}));
        let out = s.split(b"a\nbEND\nc\ndEND\ne", false);
        assert_eq!(strings(&out), ["a\nbEND", "c\ndEND"]);
        let s = splitter(json!({"multiline": {"line_start_pattern": "^START ", "omit_pattern": true}}));
        assert_eq!(strings(&s.split(b"START a\nb\nSTART c\n", true)), ["a\nb", "c"]);
    }

    #[test]
    fn entries_longer_than_max_log_size_are_cut() {
        let s = splitter(json!({"max_log_size": 4}));
        assert_eq!(strings(&s.split(b"abcdefghij\nxy", false)), ["abcd", "efgh", "ij"]);
        let out = s.split(b"abcdefghij", false);
        assert_eq!((strings(&out), out.consumed), (vec!["abcd".to_owned(), "efgh".to_owned()], 8));
    }
}
