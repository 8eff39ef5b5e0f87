//! The `memory` scraper: `system.memory.usage` by state from /proc/meminfo,
//! and the off-by-default utilization, limit and Linux available metrics.
//!
//! The states partition MemTotal: `used` is what is left after free,
//! buffers, page cache and slab (otelcol's gopsutil counts the reclaimable
//! slab in both `cached` and its own state, so its states overshoot the
//! total; here they add up).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, later, Common, Enabled, MetricDef};
use super::emit::{double, gauge, int, sum, Times};
use super::host::{Host, Scraper};
use super::procfs;
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.memory.usage", true),
    def("system.memory.utilization", false),
    def("system.memory.limit", false),
    def("system.linux.memory.available", false),
    def("system.linux.memory.dirty", false),
    def("system.memory.page_size", false),
    later("system.memory.linux.hugepages.limit"),
    later("system.memory.linux.hugepages.page_size"),
    later("system.memory.linux.hugepages.surplus"),
    later("system.memory.linux.hugepages.usage"),
    later("system.memory.linux.hugepages.utilization"),
];

pub struct MemoryScraper {
    enabled: Enabled,
}

impl MemoryScraper {
    pub fn new(c: &Common) -> Result<MemoryScraper, Invalid> {
        Ok(MemoryScraper { enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.memory")? })
    }
}

/// (state, bytes) for `system.memory.usage`, summing to MemTotal.
pub fn usage_states(m: &BTreeMap<String, u64>) -> Result<Vec<(&'static str, u64)>, String> {
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let total = m.get("MemTotal").copied().ok_or("/proc/meminfo has no MemTotal")?;
    let free = get("MemFree");
    let buffers = get("Buffers");
    let cached = get("Cached");
    let srec = get("SReclaimable");
    let sunrec = get("SUnreclaim");
    let used = total.saturating_sub(free + buffers + cached + srec + sunrec);
    Ok(vec![
        ("used", used),
        ("free", free),
        ("buffered", buffers),
        ("cached", cached),
        ("slab_reclaimable", srec),
        ("slab_unreclaimable", sunrec),
    ])
}

impl Scraper for MemoryScraper {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let m = procfs::meminfo(&host.read("/proc/meminfo")?);
        let states = usage_states(&m)?;
        let total = m["MemTotal"];
        let t = Times { start: host.started, now };
        let mut out = Vec::new();
        if self.enabled.has("system.memory.usage") {
            let pts = states.iter().map(|(s, v)| int(vec![("state", s)], *v)).collect();
            out.push(sum("system.memory.usage", "Bytes of memory in use.", "By", false, t, pts));
        }
        if self.enabled.has("system.memory.utilization") && total > 0 {
            let pts = states.iter().map(|(s, v)| double(vec![("state", s)], *v as f64 / total as f64)).collect();
            out.push(gauge("system.memory.utilization", "Percentage of memory bytes in use.", "1", t, pts));
        }
        if self.enabled.has("system.memory.limit") {
            out.push(sum(
                "system.memory.limit",
                "Total bytes of memory available.",
                "By",
                false,
                t,
                vec![int(vec![], total)],
            ));
        }
        if self.enabled.has("system.linux.memory.available") {
            let v = m.get("MemAvailable").copied().unwrap_or(0);
            out.push(sum(
                "system.linux.memory.available",
                "An estimate of how much memory is available for starting new applications, without swapping.",
                "By",
                false,
                t,
                vec![int(vec![], v)],
            ));
        }
        if self.enabled.has("system.linux.memory.dirty") {
            let v = m.get("Dirty").copied().unwrap_or(0);
            out.push(sum(
                "system.linux.memory.dirty",
                "The amount of dirty memory according to `/proc/meminfo`.",
                "By",
                false,
                t,
                vec![int(vec![], v)],
            ));
        }
        if self.enabled.has("system.memory.page_size") {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(0) as u64;
            out.push(gauge(
                "system.memory.page_size",
                "A constant value for the system's configured page size.",
                "By",
                t,
                vec![int(vec![], page)],
            ));
        }
        Ok(out)
    }
}
