//! The `paging` scraper: swap usage per device (/proc/swaps), paging
//! operations and page faults (/proc/vmstat, counts since boot). Every
//! point starts at boot, as upstream's metrics builder sets it; Linux has
//! no `cached` state (upstream reports it on other systems only).
//!
//! Operations and faults are the kernel's counts as they are: gopsutil,
//! which upstream reads them through, multiplies them by 4096 as if they
//! were pages to turn into bytes, which their `{operations}`/`{faults}`
//! unit does not ask for.

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, Common, Enabled, MetricDef};
use super::emit::{double, gauge, int, sum, Times};
use super::host::{Host, Scraper};
use super::procfs::{self, Swap};
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.paging.usage", true),
    def("system.paging.operations", true),
    def("system.paging.faults", true),
    def("system.paging.utilization", false),
];

pub struct PagingScraper {
    enabled: Enabled,
}

impl PagingScraper {
    pub fn new(c: &Common) -> Result<PagingScraper, Invalid> {
        Ok(PagingScraper { enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.paging")? })
    }
}

pub fn usage(swaps: &[Swap], enabled: &Enabled, t: Times) -> Vec<Metric> {
    let mut out = Vec::new();
    if enabled.has("system.paging.usage") {
        let pts: Vec<_> = swaps
            .iter()
            .flat_map(|s| {
                [
                    int(vec![("device", s.device.as_str()), ("state", "used")], s.used),
                    int(vec![("device", s.device.as_str()), ("state", "free")], s.size.saturating_sub(s.used)),
                ]
            })
            .collect();
        out.push(sum("system.paging.usage", "Swap (unix) or pagefile (windows) usage.", "By", false, t, pts));
    }
    if enabled.has("system.paging.utilization") {
        let ratio = |v: u64, s: &Swap| if s.size == 0 { 0.0 } else { v as f64 / s.size as f64 };
        let pts = swaps
            .iter()
            .flat_map(|s| {
                [
                    double(vec![("device", s.device.as_str()), ("state", "used")], ratio(s.used, s)),
                    double(
                        vec![("device", s.device.as_str()), ("state", "free")],
                        ratio(s.size.saturating_sub(s.used), s),
                    ),
                ]
            })
            .collect();
        out.push(gauge("system.paging.utilization", "Swap (unix) or pagefile (windows) utilization.", "1", t, pts));
    }
    out
}

/// Operations and faults from /proc/vmstat: swap-ins/outs are the major
/// operations, page-ins/outs the minor ones; major faults are `pgmajfault`,
/// minor ones the rest of `pgfault`.
pub fn counters(vm: &std::collections::BTreeMap<String, u64>, enabled: &Enabled, t: Times) -> Vec<Metric> {
    let get = |k: &str| vm.get(k).copied().unwrap_or(0);
    let mut out = Vec::new();
    if enabled.has("system.paging.operations") {
        let pts = vec![
            int(vec![("direction", "page_in"), ("type", "major")], get("pswpin")),
            int(vec![("direction", "page_out"), ("type", "major")], get("pswpout")),
            int(vec![("direction", "page_in"), ("type", "minor")], get("pgpgin")),
            int(vec![("direction", "page_out"), ("type", "minor")], get("pgpgout")),
        ];
        out.push(sum("system.paging.operations", "The number of paging operations.", "{operations}", true, t, pts));
    }
    if enabled.has("system.paging.faults") {
        let major = get("pgmajfault");
        let pts = vec![
            int(vec![("type", "major")], major),
            int(vec![("type", "minor")], get("pgfault").saturating_sub(major)),
        ];
        out.push(sum("system.paging.faults", "The number of page faults.", "{faults}", true, t, pts));
    }
    out
}

impl Scraper for PagingScraper {
    fn name(&self) -> &'static str {
        "paging"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        // /proc/swaps is missing on kernels built without swap: no swap devices
        let swaps = host.read("/proc/swaps").map(|t| procfs::swaps(&t)).unwrap_or_default();
        let t = Times { start: host.boot_ns()?, now };
        let mut out = usage(&swaps, &self.enabled, t);
        let vm = procfs::key_values(&host.read("/proc/vmstat")?);
        out.extend(counters(&vm, &self.enabled, t));
        Ok(out)
    }
}
