//! The `processes` scraper: processes by status and the number created
//! since boot, counted as otelcol does on Linux: the state letter of each
//! /proc/PID/stat, then `running` and `blocked` from /proc/stat's
//! `procs_running`/`procs_blocked` (one read, so not racing exits), and
//! `unknown` for what /proc/loadavg's total counts beyond the known ones.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, Common, Enabled, MetricDef};
use super::emit::{int, sum, Times};
use super::host::{Host, Scraper};
use super::procfs;
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[def("system.processes.count", true), def("system.processes.created", true)];

pub struct ProcessesScraper {
    enabled: Enabled,
}

impl ProcessesScraper {
    pub fn new(c: &Common) -> Result<ProcessesScraper, Invalid> {
        Ok(ProcessesScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.processes")?,
        })
    }
}

/// otelcol's `status` value for a state letter (gopsutil's mapping, which
/// covers the BSD and Solaris letters too).
pub fn status(letter: char) -> &'static str {
    match letter {
        'A' => "daemon",
        'D' | 'U' => "blocked",
        'E' => "detached",
        'I' => "idle",
        'L' => "locked",
        'O' => "orphan",
        'R' => "running",
        'S' => "sleeping",
        'T' | 't' => "stopped",
        'W' => "paging",
        'Y' => "system",
        'Z' => "zombies",
        _ => "unknown",
    }
}

/// Corrects the per-process counts with the kernel's own figures, as otelcol
/// does: `running` and `blocked` from /proc/stat, and the rest of the
/// scheduling entities /proc/loadavg counts (`14/219`: 219) as `unknown`.
pub fn settle(counts: &mut BTreeMap<&'static str, u64>, stat: &procfs::Stat, loadavg_total: Option<u64>) {
    if let Some(r) = stat.procs_running {
        counts.insert("running", r);
    }
    if let Some(b) = stat.procs_blocked {
        counts.insert("blocked", b);
    }
    let known: u64 = counts.values().sum();
    if let Some(total) = loadavg_total.filter(|t| *t > known) {
        *counts.entry("unknown").or_default() += total - known;
    }
}

/// Counts by status of the /proc/PID/stat texts given.
pub fn count<'a>(stats: impl Iterator<Item = &'a str>) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for s in stats {
        let st = procfs::process_state(s).map_or("unknown", status);
        *counts.entry(st).or_default() += 1;
    }
    counts
}

impl Scraper for ProcessesScraper {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let stat = procfs::stat(&host.read("/proc/stat")?)?;
        let mut out = Vec::new();
        if self.enabled.has("system.processes.count") {
            let dir = host.path("/proc");
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
            // a process may exit between listing and reading: skip it
            let texts: Vec<String> = entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .collect();
            let mut counts = count(texts.iter().map(String::as_str));
            let total = host.read("/proc/loadavg").ok().as_deref().and_then(procfs::loadavg_total);
            settle(&mut counts, &stat, total);
            let pts = counts.iter().map(|(s, n)| int(vec![("status", s)], *n)).collect();
            out.push(sum(
                "system.processes.count",
                "Total number of processes in each state.",
                "{processes}",
                false,
                Times { start: host.started, now },
                pts,
            ));
        }
        if self.enabled.has("system.processes.created") {
            let created = stat.processes.ok_or("/proc/stat has no processes line")?;
            let boot = stat.btime.map(|b| b * 1_000_000_000).unwrap_or(host.started);
            out.push(sum(
                "system.processes.created",
                "Total number of created processes.",
                "{processes}",
                true,
                Times { start: boot, now },
                vec![int(vec![], created)],
            ));
        }
        Ok(out)
    }
}
