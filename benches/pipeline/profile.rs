//! Optional `perf record` of the collector (`BENCH_PERF=1`, or
//! `BENCH_PERF=callgraph` for DWARF call graphs): the collector runs under
//! `perf record` and a flat report of its hottest symbols is written next to
//! the data. perf itself costs CPU on the shared cores, so numbers from a
//! profiled run are not comparable with unprofiled ones.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `perf report` (self time by DSO and symbol) for `data` to a `.txt`
/// file beside it and returns that path.
pub fn report(data: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", "dso,symbol"])
        .args(["--percent-limit", "0.5", "-i"])
        .arg(data)
        .output()?;
    let txt = data.with_extension("txt");
    std::fs::write(&txt, &out.stdout)?;
    Ok(txt)
}
