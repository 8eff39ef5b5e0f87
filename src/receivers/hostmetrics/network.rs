//! The `network` scraper: per-interface counters of /proc/net/dev
//! (filtered by `include`/`exclude` `interfaces`), TCP connections by state
//! from /proc/net/tcp and tcp6, and the off-by-default conntrack figures.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{def, filter, later, Enabled, Filter, InterfaceMatch, MetricDef, NetworkConfig};
use super::emit::{int, sum, Point, Times};
use super::host::{Host, Scraper};
use super::procfs::{self, NetDev};
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.network.packets", true),
    def("system.network.dropped", true),
    def("system.network.errors", true),
    def("system.network.io", true),
    def("system.network.connections", true),
    def("system.network.conntrack.count", false),
    def("system.network.conntrack.max", false),
    later("system.network.connection.count"),
];

/// The states otelcol's Linux scraper always reports (0 when absent); the
/// states found are counted under gopsutil's names, so `FIN_WAIT1` appears
/// next to an always-zero `FIN_WAIT_1`, as upstream does.
const ALL_TCP_STATES: &[&str] = &[
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "TIME_WAIT",
];

pub struct NetworkScraper {
    enabled: Enabled,
    filter: Filter,
}

impl NetworkScraper {
    pub fn new(c: &NetworkConfig) -> Result<NetworkScraper, Invalid> {
        Ok(NetworkScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, "scrapers.network")?,
            filter: filter(&c.include, &c.exclude, "scrapers.network", InterfaceMatch::matcher)?,
        })
    }
}

pub fn tcp_counts(tables: &[String]) -> BTreeMap<String, i64> {
    let mut counts: BTreeMap<String, i64> = ALL_TCP_STATES.iter().map(|s| ((*s).to_owned(), 0)).collect();
    for t in tables {
        procfs::tcp_states(t, &mut counts);
    }
    counts
}

/// A counter's receive and transmit values for one interface.
type Pair = fn(&NetDev) -> (u64, u64);

pub fn interface_metrics(devs: &[NetDev], enabled: &Enabled, t: Times) -> Vec<Metric> {
    let pairs = |f: Pair| -> Vec<Point> {
        devs.iter()
            .flat_map(|d| {
                let (rx, tx) = f(d);
                [
                    int(vec![("device", d.interface.as_str()), ("direction", "receive")], rx),
                    int(vec![("device", d.interface.as_str()), ("direction", "transmit")], tx),
                ]
            })
            .collect()
    };
    let all: [(&str, &str, &str, Pair); 4] = [
        ("system.network.packets", "The number of packets transferred.", "{packets}", |d| (d.rx_packets, d.tx_packets)),
        ("system.network.dropped", "The number of packets dropped.", "{packets}", |d| (d.rx_dropped, d.tx_dropped)),
        ("system.network.errors", "The number of errors encountered.", "{errors}", |d| (d.rx_errors, d.tx_errors)),
        ("system.network.io", "The number of bytes transmitted and received.", "By", |d| (d.rx_bytes, d.tx_bytes)),
    ];
    all.iter().filter(|m| enabled.has(m.0)).map(|(n, desc, unit, f)| sum(n, desc, unit, true, t, pairs(*f))).collect()
}

impl Scraper for NetworkScraper {
    fn name(&self) -> &'static str {
        "network"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        let devs: Vec<NetDev> = procfs::net_dev(&host.read("/proc/net/dev")?)
            .into_iter()
            .filter(|d| self.filter.allows(&d.interface))
            .collect();
        let mut out = if devs.is_empty() {
            Vec::new()
        } else {
            interface_metrics(&devs, &self.enabled, Times { start: host.boot_ns()?, now })
        };
        let t = Times { start: host.started, now };
        if self.enabled.has("system.network.connections") {
            // tcp6 is absent when IPv6 is disabled
            let tables: Vec<String> =
                ["/proc/net/tcp", "/proc/net/tcp6"].iter().filter_map(|p| host.read(p).ok()).collect();
            let counts = tcp_counts(&tables);
            let pts =
                counts.iter().map(|(s, n)| int(vec![("protocol", "tcp"), ("state", s.as_str())], *n as u64)).collect();
            out.push(sum("system.network.connections", "The number of connections.", "{connections}", false, t, pts));
        }
        for (name, file, desc) in [
            (
                "system.network.conntrack.count",
                "/proc/sys/net/netfilter/nf_conntrack_count",
                "The count of entries in conntrack table.",
            ),
            (
                "system.network.conntrack.max",
                "/proc/sys/net/netfilter/nf_conntrack_max",
                "The limit for entries in the conntrack table.",
            ),
        ] {
            if self.enabled.has(name) {
                let v = host.read(file)?.trim().parse::<u64>().map_err(|e| format!("{file}: {e}"))?;
                out.push(sum(name, desc, "{entries}", false, t, vec![int(vec![], v)]));
            }
        }
        Ok(out)
    }
}
