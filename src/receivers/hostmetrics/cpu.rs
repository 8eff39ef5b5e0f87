//! The `cpu` scraper: `system.cpu.time` per CPU and state from /proc/stat
//! (seconds since boot), plus the metrics otelcol leaves off by default:
//! utilization (the share of time between two scrapes), frequency and the
//! logical/physical CPU counts.

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, Common, Enabled, MetricDef};
use super::emit::{double, gauge, int, sum, Point, Times};
use super::host::{Host, Scraper};
use super::procfs::{self, CpuTimes};
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.cpu.time", true),
    def("system.cpu.utilization", false),
    def("system.cpu.frequency", false),
    def("system.cpu.logical.count", false),
    def("system.cpu.physical.count", false),
];

pub struct CpuScraper {
    enabled: Enabled,
    previous: Option<Vec<CpuTimes>>,
}

impl CpuScraper {
    pub fn new(c: &Common) -> Result<CpuScraper, Invalid> {
        Ok(CpuScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.cpu")?,
            previous: None,
        })
    }
}

/// The states otelcol reports on Linux, with their time.
fn states(c: &CpuTimes) -> [(&'static str, f64); 8] {
    [
        ("user", c.user),
        ("system", c.system),
        ("idle", c.idle),
        ("interrupt", c.irq),
        ("nice", c.nice),
        ("softirq", c.softirq),
        ("steal", c.steal),
        ("wait", c.iowait),
    ]
}

/// Each state's share of the time that passed between two readings of one
/// CPU (0 when no time passed).
pub fn utilization(prev: &CpuTimes, cur: &CpuTimes) -> Vec<(&'static str, f64)> {
    let (p, c) = (states(prev), states(cur));
    let total: f64 = c.iter().zip(&p).map(|(c, p)| (c.1 - p.1).max(0.0)).sum();
    c.iter().zip(&p).map(|(c, p)| (c.0, if total > 0.0 { (c.1 - p.1).max(0.0) / total } else { 0.0 })).collect()
}

impl Scraper for CpuScraper {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let stat = procfs::stat(&host.read("/proc/stat")?)?;
        let boot = stat.btime.map(|b| b * 1_000_000_000).unwrap_or(host.started);
        let mut out = Vec::new();
        if self.enabled.has("system.cpu.time") {
            let pts: Vec<Point> = stat
                .cpus
                .iter()
                .flat_map(|c| {
                    states(c).into_iter().map(move |(s, v)| double(vec![("cpu", c.cpu.as_str()), ("state", s)], v))
                })
                .collect();
            out.push(sum(
                "system.cpu.time",
                "Total seconds each logical CPU spent on each mode.",
                "s",
                true,
                Times { start: boot, now },
                pts,
            ));
        }
        if self.enabled.has("system.cpu.utilization") {
            if let Some(prev) = &self.previous {
                let mut pts = Vec::new();
                for c in &stat.cpus {
                    if let Some(p) = prev.iter().find(|p| p.cpu == c.cpu) {
                        for (s, v) in utilization(p, c) {
                            pts.push(double(vec![("cpu", c.cpu.as_str()), ("state", s)], v));
                        }
                    }
                }
                out.push(gauge("system.cpu.utilization", "Difference in system.cpu.time since the last measurement per logical CPU, divided by the elapsed time (value in interval [0,1]).", "1", Times { start: 0, now }, pts));
            }
        }
        let t = Times { start: host.started, now };
        if self.enabled.has("system.cpu.logical.count") {
            out.push(sum(
                "system.cpu.logical.count",
                "Number of available logical CPUs.",
                "{cpu}",
                false,
                t,
                vec![int(vec![], stat.cpus.len() as u64)],
            ));
        }
        let info = if self.enabled.has("system.cpu.frequency") || self.enabled.has("system.cpu.physical.count") {
            Some(procfs::cpuinfo(&host.read("/proc/cpuinfo")?))
        } else {
            None
        };
        if let Some((mhz, cores)) = &info {
            if self.enabled.has("system.cpu.physical.count") {
                out.push(sum(
                    "system.cpu.physical.count",
                    "Number of available physical CPUs.",
                    "{cpu}",
                    false,
                    t,
                    vec![int(vec![], *cores as u64)],
                ));
            }
            if self.enabled.has("system.cpu.frequency") {
                let names: Vec<String> = (0..mhz.len()).map(|i| format!("cpu{i}")).collect();
                let pts = mhz.iter().zip(&names).map(|(f, n)| double(vec![("cpu", n.as_str())], f * 1e6)).collect();
                out.push(gauge("system.cpu.frequency", "Current frequency of the CPU core in Hz.", "Hz", t, pts));
            }
        }
        self.previous = Some(stat.cpus);
        Ok(out)
    }
}
