//! What the side-by-side benches (benches/pipeline.rs and benches/matrix.rs)
//! share around their runs: knobs read from the environment, where the
//! collectors' binaries and the reports are, and the runtime that runs a
//! bench and turns its outcome into the exit code.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::collector::Kind;

/// A set, non-blank environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
    match env(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid number")),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn target_dir() -> PathBuf {
    match env("CARGO_TARGET_DIR") {
        Some(d) => manifest_dir().join(d),
        None => manifest_dir().join("target"),
    }
}

/// The binary to run for `kind`: `OTELSTACK_COLLECTOR` (default
/// `target/release/otelstack-collector`) or `ROTEL_AGENT` (default
/// `rotel/rotel-agent` in the repo's `.venv`); an error if it is missing.
pub fn collector_bin(kind: Kind) -> anyhow::Result<PathBuf> {
    let bin = match kind {
        Kind::Otelstack => {
            env("OTELSTACK_COLLECTOR").map_or_else(|| target_dir().join("release/otelstack-collector"), PathBuf::from)
        }
        Kind::Rotel => match env("ROTEL_AGENT") {
            Some(p) => PathBuf::from(p),
            None => find_rotel()?,
        },
    };
    if !bin.is_file() {
        bail!(
            "{kind} binary {} does not exist{}",
            bin.display(),
            if kind == Kind::Otelstack {
                " (build it with `cargo build --release --bin otelstack-collector`, or run scripts/bench.sh)"
            } else {
                ""
            }
        );
    }
    Ok(bin)
}

/// `.venv/lib/python3.*/site-packages/rotel/rotel-agent`
fn find_rotel() -> anyhow::Result<PathBuf> {
    let lib = manifest_dir().join(".venv/lib");
    if let Ok(entries) = std::fs::read_dir(&lib) {
        for e in entries.flatten() {
            let p = e.path().join("site-packages/rotel/rotel-agent");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!(
        "rotel-agent not found under {}; run scripts/bench.sh (it installs rotel==0.0.1a15 into .venv) or set ROTEL_AGENT",
        lib.display()
    )
}

/// Runs the bench on two runtime threads and exits: 0 when it passed, 1
/// when a run lost or refused items it must not, 2 when it could not run.
pub fn main(bench: impl Future<Output = anyhow::Result<bool>>) -> ! {
    // cargo bench passes `--bench` (and maybe a filter); there is nothing to filter.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let code = match rt.block_on(bench) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            2
        }
    };
    rt.shutdown_timeout(Duration::from_secs(2));
    std::process::exit(code)
}
