//! otelcol's `output_paths`: `stdout`, `stderr` or files (opened to append),
//! as the collector's own logs and the debug exporter both take them.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

/// One output path, opened.
pub enum Output {
    Stdout,
    Stderr,
    File(String, Mutex<File>),
}

impl Output {
    /// Opens `path`; the error names it and says what to do.
    pub fn open(path: &str) -> Result<Output, String> {
        Ok(match path {
            "stdout" => Output::Stdout,
            "stderr" => Output::Stderr,
            _ => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    format!("cannot open the output path {path:?}: {e}; create its directory or pick another path")
                })?;
                Output::File(path.to_owned(), Mutex::new(file))
            }
        })
    }

    /// Every path of a list, or the first that cannot be opened.
    pub fn open_all(paths: &[String]) -> Result<Vec<Output>, String> {
        paths.iter().map(|p| Output::open(p)).collect()
    }

    /// What the path was called in the config.
    pub fn name(&self) -> &str {
        match self {
            Output::Stdout => "stdout",
            Output::Stderr => "stderr",
            Output::File(p, _) => p,
        }
    }

    /// Writes `buf` whole (one line or event at a time, never interleaved).
    pub fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Stdout => std::io::stdout().lock().write_all(buf),
            Output::Stderr => std::io::stderr().lock().write_all(buf),
            Output::File(_, f) => f.lock().unwrap_or_else(|e| e.into_inner()).write_all(buf),
        }
    }
}
