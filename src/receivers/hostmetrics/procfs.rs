//! The /proc text formats the scrapers read, parsed from strings
//! so each rule is tested on recorded fixture text. No file access here:
//! `Host` in `mod.rs` reads the files (under `root_path`).

use std::collections::BTreeMap;

/// Clock ticks per second of /proc/stat's cpu lines (USER_HZ, 100 on Linux).
pub const USER_HZ: f64 = 100.0;

/// One `cpuN` line of /proc/stat, in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CpuTimes {
    pub cpu: String,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
}

/// What the scrapers take from /proc/stat.
#[derive(Debug, Default, PartialEq)]
pub struct Stat {
    /// per-CPU lines only (`cpu0`, `cpu1`...), not the `cpu` total
    pub cpus: Vec<CpuTimes>,
    /// boot time, seconds since the epoch
    pub btime: Option<u64>,
    /// forks since boot
    pub processes: Option<u64>,
    pub procs_running: Option<u64>,
    pub procs_blocked: Option<u64>,
}

/// Parses /proc/stat. CPU lines may carry fewer fields (old kernels) or
/// more (guest, guest_nice, later additions): missing ones are 0, extra
/// ones ignored.
pub fn stat(text: &str) -> Result<Stat, String> {
    let mut out = Stat::default();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        if let Some(n) = key.strip_prefix("cpu") {
            if n.is_empty() {
                continue;
            }
            let v: Vec<f64> = fields
                .map(|f| f.parse::<u64>().map(|t| t as f64 / USER_HZ))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("/proc/stat line {key:?}: {e}"))?;
            let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
            out.cpus.push(CpuTimes {
                cpu: key.to_owned(),
                user: at(0),
                nice: at(1),
                system: at(2),
                idle: at(3),
                iowait: at(4),
                irq: at(5),
                softirq: at(6),
                steal: at(7),
            });
            continue;
        }
        let value = fields.next().and_then(|f| f.parse::<u64>().ok());
        match key {
            "btime" => out.btime = value,
            "processes" => out.processes = value,
            "procs_running" => out.procs_running = value,
            "procs_blocked" => out.procs_blocked = value,
            _ => {}
        }
    }
    if out.cpus.is_empty() {
        return Err("/proc/stat has no per-CPU lines".into());
    }
    Ok(out)
}

/// `Key: value [kB]` files (/proc/meminfo): values in bytes when the line
/// says kB, as they are otherwise.
pub fn meminfo(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else { continue };
        let mut parts = rest.split_whitespace();
        let Some(Ok(n)) = parts.next().map(str::parse::<u64>) else { continue };
        let n = if parts.next() == Some("kB") { n * 1024 } else { n };
        out.insert(key.trim().to_owned(), n);
    }
    out
}

/// `key value` files (/proc/vmstat).
pub fn key_values(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut p = l.split_whitespace();
            Some((p.next()?.to_owned(), p.next()?.parse().ok()?))
        })
        .collect()
}

/// /proc/loadavg: the 1, 5 and 15 minute averages.
pub fn loadavg(text: &str) -> Result<[f64; 3], String> {
    let v: Vec<f64> = text.split_whitespace().take(3).filter_map(|f| f.parse().ok()).collect();
    match v[..] {
        [a, b, c] => Ok([a, b, c]),
        _ => Err(format!("/proc/loadavg is not three numbers: {:?}", text.trim())),
    }
}

/// The total after the slash in /proc/loadavg's fourth field (`14/219`):
/// the kernel's count of scheduling entities.
pub fn loadavg_total(text: &str) -> Option<u64> {
    text.split_whitespace().nth(3)?.split_once('/')?.1.parse().ok()
}

/// One line of /proc/diskstats (sector counts already in bytes, times in ms).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskStats {
    pub device: String,
    pub reads: u64,
    pub reads_merged: u64,
    pub read_bytes: u64,
    pub read_ms: u64,
    pub writes: u64,
    pub writes_merged: u64,
    pub write_bytes: u64,
    pub write_ms: u64,
    pub in_progress: u64,
    pub io_ms: u64,
    pub weighted_ms: u64,
}

/// Bytes per sector in /proc/diskstats, whatever the device's real sector size.
const SECTOR: u64 = 512;

/// Parses /proc/diskstats; lines with fewer than the 14 classic fields are
/// skipped, later fields (discards, flushes) ignored.
pub fn diskstats(text: &str) -> Vec<DiskStats> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 14 {
                return None;
            }
            let n = |i: usize| f[i].parse::<u64>().unwrap_or(0);
            Some(DiskStats {
                device: f[2].to_owned(),
                reads: n(3),
                reads_merged: n(4),
                read_bytes: n(5) * SECTOR,
                read_ms: n(6),
                writes: n(7),
                writes_merged: n(8),
                write_bytes: n(9) * SECTOR,
                write_ms: n(10),
                in_progress: n(11),
                io_ms: n(12),
                weighted_ms: n(13),
            })
        })
        .collect()
}

/// One interface of /proc/net/dev.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetDev {
    pub interface: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Parses /proc/net/dev (two header lines, then `iface: 16 numbers`).
pub fn net_dev(text: &str) -> Vec<NetDev> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = line.split_once(':')?;
            let v: Vec<u64> = rest.split_whitespace().filter_map(|f| f.parse().ok()).collect();
            if v.len() < 16 {
                return None;
            }
            Some(NetDev {
                interface: name.trim().to_owned(),
                rx_bytes: v[0],
                rx_packets: v[1],
                rx_errors: v[2],
                rx_dropped: v[3],
                tx_bytes: v[8],
                tx_packets: v[9],
                tx_errors: v[10],
                tx_dropped: v[11],
            })
        })
        .collect()
}

/// Linux TCP state codes in /proc/net/tcp{,6}, named as gopsutil names them
/// (which is what otelcol's network scraper reports).
fn tcp_state_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => return None,
    })
}

/// Adds the sockets of one /proc/net/tcp or tcp6 table to `counts` by state.
pub fn tcp_states(text: &str, counts: &mut BTreeMap<String, i64>) {
    for line in text.lines().skip(1) {
        let Some(code) = line.split_whitespace().nth(3) else { continue };
        if let Some(name) = tcp_state_name(code) {
            *counts.entry(name.to_owned()).or_default() += 1;
        }
    }
}

/// One mount of /proc/mounts.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fs_type: String,
    pub options: Vec<String>,
}

impl Mount {
    /// `rw`, `ro` or `unknown`, as otelcol's `mode` attribute.
    pub fn mode(&self) -> &'static str {
        if self.options.iter().any(|o| o == "rw") {
            "rw"
        } else if self.options.iter().any(|o| o == "ro") {
            "ro"
        } else {
            "unknown"
        }
    }
}

/// Undoes the octal escapes (`\040` for a space) the kernel writes in mount paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses /proc/mounts.
pub fn mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                device: unescape(f[0]),
                mountpoint: unescape(f[1]),
                fs_type: f[2].to_owned(),
                options: f[3].split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// The filesystem types /proc/filesystems lists without `nodev`: the ones
/// backed by a device (gopsutil's "physical" partitions).
pub fn device_fs_types(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("nodev"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// One swap area of /proc/swaps, in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Swap {
    pub device: String,
    pub size: u64,
    pub used: u64,
}

/// Parses /proc/swaps (sizes in KiB).
pub fn swaps(text: &str) -> Vec<Swap> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(Swap {
                // kept as the kernel escapes it, as upstream reports it
                device: f[0].to_owned(),
                size: f[2].parse::<u64>().ok()? * 1024,
                used: f[3].parse::<u64>().ok()? * 1024,
            })
        })
        .collect()
}

/// The state letter of /proc/PID/stat (the field after the parenthesised
/// command, which may itself contain spaces and parentheses).
pub fn process_state(text: &str) -> Option<char> {
    let after = &text[text.rfind(')')? + 1..];
    after.split_whitespace().next()?.chars().next()
}

/// /proc/cpuinfo: `cpu MHz` per processor, and the number of distinct
/// (physical id, core id) pairs.
pub fn cpuinfo(text: &str) -> (Vec<f64>, usize) {
    let mut mhz = Vec::new();
    let mut cores = std::collections::BTreeSet::new();
    for block in text.split("\n\n") {
        let mut physical = None;
        let mut core = None;
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            match k.trim() {
                "cpu MHz" => mhz.extend(v.trim().parse::<f64>().ok()),
                "physical id" => physical = Some(v.trim().to_owned()),
                "core id" => core = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        if physical.is_some() || core.is_some() {
            cores.insert((physical, core));
        }
    }
    (mhz, cores.len())
}

#[cfg(test)]
#[path = "procfs_tests.rs"]
mod tests;
