//! The `load` scraper: the 1, 5 and 15 minute load averages of
//! /proc/loadavg, divided by the number of CPUs with `cpu_average: true`.

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, Enabled, LoadConfig, MetricDef};
use super::emit::{double, gauge, Times};
use super::host::{Host, Scraper};
use super::procfs;
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.cpu.load_average.1m", true),
    def("system.cpu.load_average.5m", true),
    def("system.cpu.load_average.15m", true),
];

pub struct LoadScraper {
    enabled: Enabled,
    cpu_average: bool,
}

impl LoadScraper {
    pub fn new(c: &LoadConfig) -> Result<LoadScraper, Invalid> {
        Ok(LoadScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.load")?,
            cpu_average: c.cpu_average,
        })
    }
}

impl Scraper for LoadScraper {
    fn name(&self) -> &'static str {
        "load"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let mut avg = procfs::loadavg(&host.read("/proc/loadavg")?)?;
        if self.cpu_average {
            let cpus = procfs::stat(&host.read("/proc/stat")?)?.cpus.len().max(1) as f64;
            avg.iter_mut().for_each(|a| *a /= cpus);
        }
        let t = Times { start: 0, now };
        let names = ["1m", "5m", "15m"];
        Ok(METRICS
            .iter()
            .zip(avg.iter().zip(names))
            .filter(|(d, _)| self.enabled.has(d.name))
            .map(|(d, (v, n))| {
                gauge(
                    d.name,
                    &format!(
                        "Average CPU Load over {} minute{}.",
                        n.trim_end_matches('m'),
                        if n == "1m" { "" } else { "s" }
                    ),
                    "{thread}",
                    t,
                    vec![double(vec![], *v)],
                )
            })
            .collect())
    }
}
