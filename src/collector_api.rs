//! The one door between the package's two products: everything stackctl
//! (`src/cli/stackctl`, `src/stack`) uses from the collector's side comes
//! through here, so the boundary is a list a reader can check, not a search.
//! Today that is the config reader's YAML tree (stackctl reads
//! `docker compose config` with it) and the failure store the `mysql`
//! exporter writes. A test below fails when stackctl's files name any other
//! `crate::` path; widen this module on purpose instead.

/// The YAML reader of the collector's config loading: a tree with line and
/// column on every node, convertible to JSON.
pub(crate) use crate::config::node::Node;
/// Connection strings, tables and read queries of the failed-operations store.
pub(crate) use crate::failure_store;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Module paths stackctl's files may name with `crate::`.
    const ALLOWED: [&str; 3] = ["crate::cli::stackctl", "crate::stack", "crate::collector_api"];

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn stackctl_reaches_the_collector_only_through_this_module() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src.join("cli/stackctl"), &mut files);
        rust_files(&src.join("stack"), &mut files);
        files.push(src.join("bin/stackctl.rs"));
        assert!(files.len() > 20, "found only {files:?}");
        let mut outside = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                // the binary names the library `otelstack`, the library `crate`
                let normalized = code.replace("otelstack::", "crate::");
                let escapes = normalized.contains("super::super::super::");
                let foreign = normalized.match_indices("crate::").any(|(at, _)| {
                    let path = &normalized[at..];
                    // `crate::stack` must not also admit `crate::stackish`
                    !ALLOWED.iter().any(|a| {
                        path.strip_prefix(a).is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
                    })
                });
                if foreign || escapes {
                    outside.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            outside.is_empty(),
            "stackctl uses the collector outside crate::collector_api:\n{}",
            outside.join("\n")
        );
    }
}
