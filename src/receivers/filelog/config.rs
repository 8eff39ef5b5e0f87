//! The `filelog` receiver's keys with otelcol-contrib's defaults
//! (`receiver/filelogreceiver` and `pkg/stanza/fileconsumer`), and the
//! checks that run at validation. Operators are read by `operators/`.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::component::Invalid;
use crate::config::types::GoDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileLogConfig {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub exclude_older_than: Option<GoDuration>,
    pub start_at: StartAt,
    pub multiline: Option<MultilineConfig>,
    pub force_flush_period: GoDuration,
    pub encoding: String,
    pub preserve_leading_whitespaces: bool,
    pub preserve_trailing_whitespaces: bool,
    pub include_file_name: bool,
    pub include_file_path: bool,
    pub include_file_name_resolved: bool,
    pub include_file_path_resolved: bool,
    pub poll_interval: GoDuration,
    pub fingerprint_size: ByteSize,
    pub max_log_size: ByteSize,
    pub max_concurrent_files: usize,
    pub attributes: Map<String, Value>,
    pub resource: Map<String, Value>,
    /// read by `operators::Pipeline::build`, which reports key paths
    pub operators: Vec<Value>,
    pub storage: Option<String>,
    pub retry_on_failure: RetryOnFailure,
    // upstream's keys that otelstack does not implement: read (not rejected
    // as unknown) so that `check_refused` can say why and what to do instead
    pub compression: Option<Value>,
    pub header: Option<Value>,
    pub delete_after_read: Option<Value>,
    pub ordering_criteria: Option<Value>,
    pub include_file_record_number: Option<Value>,
    pub include_file_record_offset: Option<Value>,
    pub include_file_owner_name: Option<Value>,
    pub include_file_owner_group_name: Option<Value>,
    pub max_batches: Option<Value>,
    pub acquire_fs_lock: Option<Value>,
    pub polls_to_archive: Option<Value>,
}

impl Default for FileLogConfig {
    fn default() -> Self {
        FileLogConfig {
            include: Vec::new(),
            exclude: Vec::new(),
            exclude_older_than: None,
            start_at: StartAt::End,
            multiline: None,
            force_flush_period: GoDuration::millis(500),
            encoding: "utf-8".into(),
            preserve_leading_whitespaces: false,
            preserve_trailing_whitespaces: false,
            include_file_name: true,
            include_file_path: false,
            include_file_name_resolved: false,
            include_file_path_resolved: false,
            poll_interval: GoDuration::millis(200),
            fingerprint_size: ByteSize(1000),
            max_log_size: ByteSize(1024 * 1024),
            max_concurrent_files: 1024,
            attributes: Map::new(),
            resource: Map::new(),
            operators: Vec::new(),
            storage: None,
            retry_on_failure: RetryOnFailure::default(),
            compression: None,
            header: None,
            delete_after_read: None,
            ordering_criteria: None,
            include_file_record_number: None,
            include_file_record_offset: None,
            include_file_owner_name: None,
            include_file_owner_group_name: None,
            max_batches: None,
            acquire_fs_lock: None,
            polls_to_archive: None,
        }
    }
}

impl FileLogConfig {
    fn check_refused(&self) -> Result<(), Invalid> {
        let r = self;
        for (key, value, why) in [
            (
                "compression",
                &r.compression,
                "gzip-compressed files are not read; tail the uncompressed log, or decompress the files first",
            ),
            (
                "header",
                &r.header,
                "header metadata parsing is not implemented; parse the lines with regex_parser instead",
            ),
            (
                "delete_after_read",
                &r.delete_after_read,
                "files are never deleted; remove them with logrotate's maxage or rotate",
            ),
            (
                "ordering_criteria",
                &r.ordering_criteria,
                "every matching file is read; narrow include/exclude or use exclude_older_than",
            ),
            ("include_file_record_number", &r.include_file_record_number, "record numbers are not tracked"),
            ("include_file_record_offset", &r.include_file_record_offset, "record offsets are not tracked"),
            (
                "include_file_owner_name",
                &r.include_file_owner_name,
                "file owners are not looked up; add a static attribute with the add operator",
            ),
            (
                "include_file_owner_group_name",
                &r.include_file_owner_group_name,
                "file groups are not looked up; add a static attribute with the add operator",
            ),
            ("max_batches", &r.max_batches, "every poll reads all matched files in batches of max_concurrent_files"),
            ("acquire_fs_lock", &r.acquire_fs_lock, "files are read without taking a lock"),
            (
                "polls_to_archive",
                &r.polls_to_archive,
                "no archive of old fingerprints is kept beyond the checkpoint file",
            ),
        ] {
            if value.as_ref().is_some_and(is_set) {
                return Err(Invalid::at(key, format!("is not supported: {why}; remove the key")));
            }
        }
        Ok(())
    }
}

/// A key left at upstream's default (`false`, `0`, empty) changes nothing and is accepted.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    Beginning,
    End,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultilineConfig {
    pub line_start_pattern: Option<String>,
    pub line_end_pattern: Option<String>,
    pub omit_pattern: bool,
}

/// Upstream's `retry_on_failure`. A refused batch is always kept and sent
/// again (the file offset does not move); `enabled: true` adds upstream's
/// give-up after `max_elapsed_time`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryOnFailure {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryOnFailure {
    fn default() -> Self {
        RetryOnFailure {
            enabled: false,
            initial_interval: GoDuration::secs(1),
            max_interval: GoDuration::secs(30),
            max_elapsed_time: GoDuration::secs(300),
        }
    }
}

/// A size as stanza writes it: a number of bytes or `1kb`, `16KiB`, `1MiB`
/// (`kb` is 1000, `kib` 1024, letters in any case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a size; write e.g. 1048576, 1kb or 1MiB"))?;
    let mult: u64 = match unit.trim() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" => 1 << 10,
        "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        _ => return Err(format!("{s:?} has an unknown unit; use b, kb, kib, mb, mib, gb or gib")),
    };
    Ok((n * mult as f64) as u64)
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n.as_u64().map(ByteSize).ok_or_else(|| de::Error::custom("a size must be >= 0")),
            Value::String(s) => parse_byte_size(&s).map(ByteSize).map_err(de::Error::custom),
            _ => Err(de::Error::custom("a size is a number of bytes or a string like 1MiB")),
        }
    }
}

impl FileLogConfig {
    pub fn check(&self) -> Result<(), Invalid> {
        self.check_refused()?;
        if self.include.is_empty() {
            return Err(Invalid::at("include", "is required: list the files to read, e.g. [/var/log/app/*.log]"));
        }
        for (key, list) in [("include", &self.include), ("exclude", &self.exclude)] {
            for (i, p) in list.iter().enumerate() {
                super::finder::check_pattern(p).map_err(|e| Invalid::at(format!("{key}.{i}"), e))?;
            }
        }
        if !matches!(self.encoding.to_ascii_lowercase().as_str(), "utf-8" | "utf8" | "") {
            return Err(Invalid::at(
                "encoding",
                format!(
                    "{:?} is not supported here: only utf-8 files are read; convert the file (iconv) or remove the key",
                    self.encoding
                ),
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(Invalid::at("poll_interval", "must be greater than 0"));
        }
        if self.fingerprint_size.0 < 16 {
            return Err(Invalid::at("fingerprint_size", "must be at least 16 bytes (default 1kb)"));
        }
        if self.max_log_size.0 == 0 {
            return Err(Invalid::at("max_log_size", "must be greater than 0"));
        }
        if self.max_concurrent_files < 1 {
            return Err(Invalid::at("max_concurrent_files", "must be at least 1"));
        }
        if let Some(m) = &self.multiline {
            match (&m.line_start_pattern, &m.line_end_pattern) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Invalid::at(
                        "multiline",
                        "needs exactly one of line_start_pattern and line_end_pattern",
                    ))
                }
                (Some(p), None) | (None, Some(p)) => {
                    let key = if m.line_start_pattern.is_some() { "line_start_pattern" } else { "line_end_pattern" };
                    regex::Regex::new(p).map_err(|e| Invalid::at(format!("multiline.{key}"), e.to_string()))?;
                    if regex::Regex::new(p).map(|r| r.is_match("")).unwrap_or(false) {
                        return Err(Invalid::at(
                            format!("multiline.{key}"),
                            "matches the empty string, so it would split everywhere; make it match text",
                        ));
                    }
                }
            }
        }
        if let Some(s) = &self.storage {
            if s.is_empty() {
                return Err(Invalid::at("storage", "must name a storage extension, e.g. file_storage"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::parse_section;
    use serde_json::json;

    fn cfg(v: Value) -> Result<FileLogConfig, String> {
        parse_section::<FileLogConfig>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn upstream_keys_left_at_their_defaults_pass_and_set_ones_are_refused_with_a_reason() {
        let base = |k: &str, v: Value| {
            let mut m = json!({"include": ["/var/log/*.log"]});
            m[k] = v;
            cfg(m).unwrap().check()
        };
        assert!(base("delete_after_read", json!(false)).is_ok());
        assert!(base("max_batches", json!(0)).is_ok());
        assert!(base("include_file_record_number", json!(false)).is_ok());
        let e = base("compression", json!("gzip")).unwrap_err();
        assert_eq!(e.path, "compression");
        assert!(e.message.contains("is not supported: gzip-compressed files"), "{}", e.message);
        let e = base("ordering_criteria", json!({"top_n": 1, "sort_by": [{"sort_type": "mtime"}]})).unwrap_err();
        assert_eq!(e.path, "ordering_criteria");
        assert_eq!(base("delete_after_read", json!(true)).unwrap_err().path, "delete_after_read");
        assert_eq!(base("max_batches", json!(4)).unwrap_err().path, "max_batches");
        // still an unknown key, with serde's message
        assert!(cfg(json!({"include": ["/x"], "no_such_key": 1})).is_err());
    }

    #[test]
    fn defaults_are_upstreams() {
        let c = cfg(json!({"include": ["/var/log/*.log"]})).unwrap();
        assert_eq!(c.start_at, StartAt::End);
        assert_eq!(c.poll_interval, GoDuration::millis(200));
        assert_eq!(c.force_flush_period, GoDuration::millis(500));
        assert_eq!(c.fingerprint_size, ByteSize(1000));
        assert_eq!(c.max_log_size, ByteSize(1 << 20));
        assert_eq!(c.max_concurrent_files, 1024);
        assert!(c.include_file_name && !c.include_file_path);
        assert!(c.check().is_ok());
    }

    #[test]
    fn sizes_read_like_stanza() {
        assert_eq!(parse_byte_size("1kb"), Ok(1000));
        assert_eq!(parse_byte_size("16KiB"), Ok(16384));
        assert_eq!(parse_byte_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_byte_size("2mb"), Ok(2_000_000));
        assert!(parse_byte_size("1 parsec").is_err());
        assert_eq!(cfg(json!({"include": ["a"], "max_log_size": 2048})).unwrap().max_log_size, ByteSize(2048));
    }

    #[test]
    fn refusals_name_the_key() {
        let path = |v: Value| cfg(v).unwrap().check().unwrap_err().path;
        assert_eq!(path(json!({})), "include");
        assert_eq!(path(json!({"include": ["a"], "encoding": "utf-16le"})), "encoding");
        assert_eq!(path(json!({"include": ["a"], "multiline": {}})), "multiline");
        assert_eq!(
            path(json!({"include": ["a"], "multiline": {"line_start_pattern": "a", "line_end_pattern": "b"}})),
            "multiline"
        );
        assert_eq!(
            path(json!({"include": ["a"], "multiline": {"line_start_pattern": "("}})),
            "multiline.line_start_pattern"
        );
        assert_eq!(path(json!({"include": ["a"], "exclude": ["[z"]})), "exclude.0");
        assert!(cfg(json!({"include": ["a"], "start_at": "middle"})).is_err());
        assert!(cfg(json!({"include": ["a"], "poll_intervall": "1s"})).unwrap_err().contains("poll_intervall"));
    }
}
