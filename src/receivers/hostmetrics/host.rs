//! The host the scrapers read (/proc and mount points under `root_path`)
//! and the contract every scraper implements.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::procfs;

/// Where the scrapers read the host: /proc and mount points under
/// `root_path`, and the times sums start from.
pub struct Host {
    root: PathBuf,
    /// when the receiver started, ns: the start of non-monotonic sums
    pub started: u64,
}

impl Host {
    pub fn new(root_path: &str) -> Host {
        Host { root: PathBuf::from(if root_path.is_empty() { "/" } else { root_path }), started: now_ns() }
    }

    /// A host path (`/proc/stat`) under the root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.root.join(abs.trim_start_matches('/'))
    }

    pub fn read(&self, abs: &str) -> Result<String, String> {
        let p = self.path(abs);
        std::fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()))
    }

    /// Boot time in ns since the epoch (/proc/stat `btime`): the start of
    /// the counters the kernel keeps since boot.
    pub fn boot_ns(&self) -> Result<u64, String> {
        let stat = procfs::stat(&self.read("/proc/stat")?)?;
        stat.btime.map(|b| b * 1_000_000_000).ok_or_else(|| "/proc/stat has no btime line".into())
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
}

/// One scraper: reads the host and returns its metrics for this interval.
pub trait Scraper: Send {
    /// the scraper's key in `scrapers:` (`cpu`), also its scope name's suffix
    fn name(&self) -> &'static str;
    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String>;
}
