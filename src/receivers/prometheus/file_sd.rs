//! File-based service discovery (`file_sd_configs`) as Prometheus's
//! `discovery/file`: JSON or YAML lists of target groups (`targets`,
//! `labels`) in files matched by patterns whose last path element may hold a
//! glob; each target gets `__meta_filepath`. The files are watched by
//! polling their names, sizes and modification times every second
//! (`POLL`), and re-read in full every `refresh_interval` (default 5m); a
//! file that stops parsing keeps its last good groups, as upstream does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::types::GoDuration;

/// How often the watched files' metadata is checked.
pub const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSdConfig {
    pub files: Vec<String>,
    pub refresh_interval: GoDuration,
}

impl Default for FileSdConfig {
    fn default() -> Self {
        FileSdConfig { files: Vec::new(), refresh_interval: GoDuration::secs(300) }
    }
}

impl FileSdConfig {
    /// Upstream's rule: a glob only in the last path element, and the
    /// name ends in .json, .yml or .yaml.
    pub fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("file_sd_configs needs at least one entry under files".into());
        }
        let pattern = Regex::new(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$").expect("static regex");
        for f in &self.files {
            if !pattern.is_match(f) {
                return Err(format!(
                    "path {f:?} is not valid for file discovery: it must end in .json, .yml or .yaml and may hold \
                     a '*' only in its last element"
                ));
            }
        }
        Ok(())
    }
}

/// A target group: targets sharing labels (`__meta_filepath` included).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    #[serde(default)]
    pub targets: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// The files a pattern names now: `filepath.Glob` for `*`, `?` and `[...]`
/// in the last element, the path itself when it holds none.
pub fn glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.contains(['*', '?', '[']) {
        return if path.is_file() { vec![path.to_path_buf()] } else { Vec::new() };
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut re = String::from("^");
    let mut in_class = false;
    for c in name.chars() {
        match c {
            '*' if !in_class => re.push_str("[^/]*"),
            '?' if !in_class => re.push_str("[^/]"),
            '[' if !in_class => {
                in_class = true;
                re.push('[');
            }
            ']' if in_class => {
                in_class = false;
                re.push(']');
            }
            '^' if in_class => re.push('^'),
            '-' if in_class => re.push('-'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    let Ok(re) = Regex::new(&re) else { return Vec::new() };
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| re.is_match(n)) && e.path().is_file())
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Parses one file's target groups by its extension.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Group>, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_lowercase();
    let value: Value = match ext.as_str() {
        "json" => serde_json::from_str(text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))?,
        "yml" | "yaml" => super::yaml::to_json(text).map_err(|e| format!("{}: {e}", path.display()))?,
        _ => return Err(format!("{}: file discovery reads only .json, .yml and .yaml files", path.display())),
    };
    let value = if value.is_null() { Value::Array(Vec::new()) } else { value };
    let mut groups: Vec<Group> =
        serde_json::from_value(value).map_err(|e| format!("{}: not a list of target groups: {e}", path.display()))?;
    for g in &mut groups {
        for t in &g.targets {
            if t.is_empty() || t.contains('/') {
                return Err(format!("{}: {t:?} is not a valid target address (host:port)", path.display()));
            }
        }
        g.labels.insert("__meta_filepath".into(), path.display().to_string());
    }
    Ok(groups)
}

type Stamp = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn stamp(files: &[PathBuf]) -> Stamp {
    files
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).ok();
            (p.clone(), m.as_ref().map_or(0, |m| m.len()), m.and_then(|m| m.modified().ok()))
        })
        .collect()
}

/// Watches one file_sd config and sends its full set of groups whenever it
/// changes (the first set at once).
pub async fn watch(cfg: FileSdConfig, tx: mpsc::Sender<Vec<Group>>, stop: CancellationToken, receiver: String) {
    let mut last_good: BTreeMap<PathBuf, Vec<Group>> = BTreeMap::new();
    let mut sent: Option<Vec<Group>> = None;
    let mut last_stamp: Option<Stamp> = None;
    let mut last_full = Instant::now();
    loop {
        let files: Vec<PathBuf> = cfg.files.iter().flat_map(|p| glob(p)).collect();
        let now_stamp = stamp(&files);
        let due = last_full.elapsed() >= cfg.refresh_interval.0;
        if due || last_stamp.as_ref() != Some(&now_stamp) {
            last_full = Instant::now();
            last_good.retain(|p, _| files.contains(p));
            for p in &files {
                match std::fs::read_to_string(p).map_err(|e| e.to_string()).and_then(|t| parse_file(p, &t)) {
                    Ok(groups) => {
                        last_good.insert(p.clone(), groups);
                    }
                    Err(e) => {
                        tracing::error!(receiver = %receiver, path = %p.display(), error = %e, "file discovery could not read a file")
                    }
                }
            }
            let all: Vec<Group> = last_good.values().flatten().cloned().collect();
            if sent.as_ref() != Some(&all) {
                if tx.send(all.clone()).await.is_err() {
                    return;
                }
                sent = Some(all);
            }
            last_stamp = Some(now_stamp);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_yaml_groups_with_filepath() {
        let json = r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#;
        let g = parse_file(Path::new("/x/t.json"), json).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].targets, vec!["a:1", "b:2"]);
        assert_eq!(g[0].labels["env"], "prod");
        assert_eq!(g[1].labels["__meta_filepath"], "/x/t.json");
        let yaml = "- targets: ['a:1']\n  labels:\n    env: dev\n";
        let g = parse_file(Path::new("/x/t.yml"), yaml).unwrap();
        assert_eq!(
            g,
            vec![Group {
                targets: vec!["a:1".into()],
                labels: [
                    ("env".to_string(), "dev".to_string()),
                    ("__meta_filepath".to_string(), "/x/t.yml".to_string())
                ]
                .into()
            }]
        );
        assert!(parse_file(Path::new("/x/t.yaml"), "").unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_files() {
        assert!(parse_file(Path::new("t.json"), "{").unwrap_err().contains("invalid JSON"));
        assert!(parse_file(Path::new("t.json"), r#"[{"targets": ["a:1"], "bogus": 1}]"#)
            .unwrap_err()
            .contains("bogus"));
        assert!(parse_file(Path::new("t.json"), r#"[{"targets": ["http://a:1/x"]}]"#)
            .unwrap_err()
            .contains("host:port"));
        assert!(parse_file(Path::new("t.txt"), "[]").unwrap_err().contains(".json"));
    }

    #[test]
    fn validates_patterns_as_upstream() {
        let cfg = |f: &str| FileSdConfig { files: vec![f.into()], ..Default::default() };
        assert!(cfg("/etc/sd/*.json").validate().is_ok());
        assert!(cfg("sd/targets.yml").validate().is_ok());
        assert!(cfg("/etc/*/x.json").validate().is_err());
        assert!(cfg("/etc/sd/x.txt").validate().is_err());
        assert_eq!(FileSdConfig::default().refresh_interval.0, Duration::from_secs(300));
    }

    #[test]
    fn globs_the_last_element() {
        let dir = std::env::temp_dir().join(format!("file_sd_glob_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in ["a.json", "b.json", "c.yml"] {
            std::fs::write(dir.join(n), "[]").unwrap();
        }
        let got = glob(&format!("{}/*.json", dir.display()));
        assert_eq!(got, vec![dir.join("a.json"), dir.join("b.json")]);
        assert_eq!(glob(&format!("{}/[ab].json", dir.display())).len(), 2);
        assert_eq!(glob(&format!("{}/c.yml", dir.display())), vec![dir.join("c.yml")]);
        assert!(glob(&format!("{}/missing.yml", dir.display())).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
