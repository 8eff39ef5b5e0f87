//! Which files to read: `include` and `exclude` globs with doublestar `**`
//! (as fileconsumer's `matcher`, built on bmatcuk/doublestar): `*` stays
//! inside one path segment, `**` crosses directories. The walk starts at each
//! pattern's literal directory prefix, so only the relevant tree is read.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use globset::{Glob, GlobBuilder, GlobMatcher};

pub fn check_pattern(p: &str) -> Result<(), String> {
    compile(p).map(|_| ())
}

fn compile(p: &str) -> Result<GlobMatcher, String> {
    let glob: Glob = GlobBuilder::new(p)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("{p:?} is not a glob pattern: {}", e.kind()))?;
    Ok(glob.compile_matcher())
}

fn is_meta(segment: &str) -> bool {
    segment.contains(['*', '?', '[', '{'])
}

/// One include pattern: its literal directory and how deep below it a
/// match can be (`None` with `**`).
struct Include {
    matcher: GlobMatcher,
    root: PathBuf,
    depth: Option<usize>,
}

pub struct Finder {
    include: Vec<Include>,
    exclude: Vec<GlobMatcher>,
    older_than: Option<Duration>,
}

impl Finder {
    pub fn new(include: &[String], exclude: &[String], older_than: Option<Duration>) -> Result<Finder, String> {
        let include = include
            .iter()
            .map(|p| {
                let segments: Vec<&str> = p.split('/').collect();
                let literal = segments.iter().take_while(|s| !is_meta(s)).count();
                let root = if literal == 0 {
                    PathBuf::from(".")
                } else if literal == segments.len() {
                    // a plain path: its directory holds it
                    Path::new(p).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
                } else {
                    let r = segments[..literal].join("/");
                    PathBuf::from(if r.is_empty() { "/".to_owned() } else { r })
                };
                let depth = if p.contains("**") { None } else { Some(segments.len().saturating_sub(literal).max(1)) };
                Ok(Include { matcher: compile(p)?, root, depth })
            })
            .collect::<Result<_, String>>()?;
        let exclude = exclude.iter().map(|p| compile(p)).collect::<Result<_, String>>()?;
        Ok(Finder { include, exclude, older_than })
    }

    /// The regular files matching now, sorted, each once.
    pub fn find(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for inc in &self.include {
            walk(&inc.root, inc.depth, &mut |path| {
                if inc.matcher.is_match(path) && !self.exclude.iter().any(|x| x.is_match(path)) {
                    out.push(path.to_path_buf());
                }
            });
        }
        out.sort();
        out.dedup();
        if let Some(age) = self.older_than {
            let now = SystemTime::now();
            out.retain(|p| {
                let modified = std::fs::metadata(p).and_then(|m| m.modified());
                modified.map(|m| now.duration_since(m).unwrap_or_default() <= age).unwrap_or(true)
            });
        }
        out
    }
}

fn walk(dir: &Path, depth: Option<usize>, found: &mut dyn FnMut(&Path)) {
    if depth == Some(0) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let path = path.strip_prefix("./").map(Path::to_path_buf).unwrap_or(path);
        // follows symlinks, as upstream reads a linked file
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if meta.is_file() {
            found(&path);
        } else if meta.is_dir() && !entry.file_type().map(|t| t.is_symlink()).unwrap_or(false) {
            walk(&path, depth.map(|d| d - 1), found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let d = std::env::temp_dir().join(format!("filelog-finder-{}-{}", std::process::id(), fastrand::u64(..)));
        for f in ["a.log", "b.log", "c.txt", "sub/d.log", "sub/deep/e.log", "sub/deep/skip.log"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x\n").unwrap();
        }
        d
    }

    fn names(d: &Path, inc: &[&str], exc: &[&str]) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|p| format!("{}/{p}", d.display())).collect::<Vec<_>>();
        let f = Finder::new(&s(inc), &s(exc), None).unwrap();
        f.find().iter().map(|p| p.strip_prefix(d).unwrap().display().to_string()).collect()
    }

    #[test]
    fn star_stays_in_a_segment_and_doublestar_crosses_directories() {
        let d = tree();
        assert_eq!(names(&d, &["*.log"], &[]), ["a.log", "b.log"]);
        assert_eq!(
            names(&d, &["**/*.log"], &[]),
            ["a.log", "b.log", "sub/d.log", "sub/deep/e.log", "sub/deep/skip.log"]
        );
        assert_eq!(names(&d, &["**/*.log"], &["**/skip.log", "b.log"]), ["a.log", "sub/d.log", "sub/deep/e.log"]);
        assert_eq!(names(&d, &["sub/*/*.log"], &[]), ["sub/deep/e.log", "sub/deep/skip.log"]);
        assert_eq!(names(&d, &["c.txt", "a.log", "*.log"], &[]), ["a.log", "b.log", "c.txt"]);
        assert_eq!(names(&d, &["{a,c}.*"], &[]), ["a.log", "c.txt"]);
        assert!(names(&d, &["nothing/*.log"], &[]).is_empty());
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn exclude_older_than_skips_files_not_modified_lately() {
        let d = tree();
        let old = std::fs::File::options().write(true).open(d.join("b.log")).unwrap();
        old.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
        let f = Finder::new(&[format!("{}/*.log", d.display())], &[], Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(f.find(), [d.join("a.log")]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn a_bad_pattern_is_refused() {
        assert!(check_pattern("/var/log/[a.log").unwrap_err().contains("not a glob pattern"));
    }
}
