//! Per-process CPU time and memory from /proc.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Clock ticks per second (`getconf CLK_TCK`, almost always 100 on Linux).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32, ticks: f64) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces: split after its ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or_else(|| std::io::Error::other("bad /proc stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime field 15.
    let parse = |i: usize| -> std::io::Result<u64> {
        fields.get(i - 3).and_then(|f| f.parse().ok()).ok_or_else(|| std::io::Error::other("bad /proc stat field"))
    };
    Ok((parse(14)? + parse(15)?) as f64 / ticks)
}

/// A `Vm*` line of /proc/PID/status, in KiB.
fn status_kib(pid: u32, key: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no {key} in /proc/{pid}/status")))
}

/// Peak resident set size (VmHWM), KiB.
pub fn peak_rss_kib(pid: u32) -> std::io::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// Current resident set size (VmRSS), KiB.
pub fn rss_kib(pid: u32) -> std::io::Result<u64> {
    status_kib(pid, "VmRSS")
}

/// Number of threads.
pub fn threads(pid: u32) -> std::io::Result<u64> {
    status_kib(pid, "Threads")
}

/// Samples VmRSS every 100 ms on a plain thread until stopped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<u64>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, v) = (stop.clone(), samples.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Ok(kib) = rss_kib(pid) {
                    v.lock().unwrap().push(kib);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssSampler { stop, samples, handle: Some(handle) }
    }

    /// Stops sampling; returns the average RSS in KiB.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let v = self.samples.lock().unwrap();
        if v.is_empty() {
            0
        } else {
            v.iter().sum::<u64>() / v.len() as u64
        }
    }
}
