//! Process metrics read from /proc at scrape time: Prometheus' standard
//! `process_*` names plus otelcol's `otelcol_process_*` twins.

use std::time::Instant;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector {
    started: Instant,
}

impl ProcessCollector {
    pub fn new() -> ProcessCollector {
        ProcessCollector { started: Instant::now() }
    }
}

/// Resident set size and peak resident set size in bytes, from /proc/self/status.
pub fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User plus system CPU seconds of this process, from /proc/self/stat.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the parenthesised command name; utime and stime are the 12th and 13th
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut gauge = |name: &str, help: &str, v: f64| -> Result<(), std::fmt::Error> {
            let g = ConstGauge::new(v);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
        };
        if let Some((rss, _)) = memory() {
            gauge("process_resident_memory_bytes", "Resident memory size in bytes", rss as f64)?;
            gauge("otelcol_process_memory_rss", "Total physical memory (resident set size) in bytes", rss as f64)?;
        }
        gauge("otelcol_process_uptime", "Uptime of the process in seconds", self.started.elapsed().as_secs_f64())?;
        if let Some(cpu) = cpu_seconds() {
            for (name, help) in [
                ("process_cpu_seconds", "Total user and system CPU time spent in seconds"),
                ("otelcol_process_cpu_seconds", "Total CPU user and system time in seconds"),
            ] {
                let c = ConstCounter::new(cpu);
                c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
            }
        }
        Ok(())
    }
}
