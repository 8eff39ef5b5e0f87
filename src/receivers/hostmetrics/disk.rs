//! The `disk` scraper: per-device I/O counters of /proc/diskstats (bytes,
//! operations, times, merges, queue), filtered by `include`/`exclude`
//! `devices`.

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, filter, DeviceMatch, DiskConfig, Enabled, Filter, MetricDef};
use super::emit::{double, int, sum, Point, Times};
use super::host::{Host, Scraper};
use super::procfs::{self, DiskStats};
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.disk.io", true),
    def("system.disk.operations", true),
    def("system.disk.io_time", true),
    def("system.disk.operation_time", true),
    def("system.disk.weighted_io_time", true),
    def("system.disk.pending_operations", true),
    def("system.disk.merged", true),
];

pub struct DiskScraper {
    enabled: Enabled,
    filter: Filter,
}

impl DiskScraper {
    pub fn new(c: &DiskConfig) -> Result<DiskScraper, Invalid> {
        Ok(DiskScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.disk")?,
            filter: filter(&c.include, &c.exclude, "scrapers.disk", DeviceMatch::matcher)?,
        })
    }
}

/// The metrics for these devices, the enabled ones only.
pub fn metrics(disks: &[DiskStats], enabled: &Enabled, t: Times) -> Vec<Metric> {
    type Read = fn(&DiskStats) -> (u64, u64);
    let rw = |f: Read| -> Vec<Point> {
        disks
            .iter()
            .flat_map(|d| {
                let (r, w) = f(d);
                [
                    int(vec![("device", d.device.as_str()), ("direction", "read")], r),
                    int(vec![("device", d.device.as_str()), ("direction", "write")], w),
                ]
            })
            .collect()
    };
    let secs = |f: fn(&DiskStats) -> u64| -> Vec<Point> {
        disks.iter().map(|d| double(vec![("device", d.device.as_str())], f(d) as f64 / 1000.0)).collect()
    };
    let mut out = Vec::new();
    let mut add = |name: &str, m: Metric| {
        if enabled.has(name) {
            out.push(m)
        }
    };
    add(
        "system.disk.io",
        sum("system.disk.io", "Disk bytes transferred.", "By", true, t, rw(|d| (d.read_bytes, d.write_bytes))),
    );
    add(
        "system.disk.operations",
        sum("system.disk.operations", "Disk operations count.", "{operations}", true, t, rw(|d| (d.reads, d.writes))),
    );
    add(
        "system.disk.io_time",
        sum(
            "system.disk.io_time",
            "Time disk spent activated. On Windows, this is calculated as the inverse of disk idle time.",
            "s",
            true,
            t,
            secs(|d| d.io_ms),
        ),
    );
    let op_time = disks
        .iter()
        .flat_map(|d| {
            [
                double(vec![("device", d.device.as_str()), ("direction", "read")], d.read_ms as f64 / 1000.0),
                double(vec![("device", d.device.as_str()), ("direction", "write")], d.write_ms as f64 / 1000.0),
            ]
        })
        .collect();
    add(
        "system.disk.operation_time",
        sum("system.disk.operation_time", "Time spent in disk operations.", "s", true, t, op_time),
    );
    add(
        "system.disk.weighted_io_time",
        sum(
            "system.disk.weighted_io_time",
            "Time disk spent activated multiplied by the queue length.",
            "s",
            true,
            t,
            secs(|d| d.weighted_ms),
        ),
    );
    let pending = disks.iter().map(|d| int(vec![("device", d.device.as_str())], d.in_progress)).collect();
    add(
        "system.disk.pending_operations",
        sum(
            "system.disk.pending_operations",
            "The queue size of pending I/O operations.",
            "{operations}",
            false,
            t,
            pending,
        ),
    );
    add(
        "system.disk.merged",
        sum(
            "system.disk.merged",
            "The number of disk reads/writes merged into single physical disk access operations.",
            "{operations}",
            true,
            t,
            rw(|d| (d.reads_merged, d.writes_merged)),
        ),
    );
    out
}

impl Scraper for DiskScraper {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let disks: Vec<DiskStats> = procfs::diskstats(&host.read("/proc/diskstats")?)
            .into_iter()
            .filter(|d| self.filter.allows(&d.device))
            .collect();
        if disks.is_empty() {
            return Ok(Vec::new());
        }
        Ok(metrics(&disks, &self.enabled, Times { start: host.boot_ns()?, now }))
    }
}
