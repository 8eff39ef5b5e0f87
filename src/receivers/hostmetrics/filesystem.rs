//! The `filesystem` scraper: space and inodes of each mounted filesystem
//! (/proc/mounts, then statvfs under `root_path`), filtered by device, type
//! and mount point; virtual filesystems (types /proc/filesystems marks
//! `nodev`) only with `include_virtual_filesystems`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use opentelemetry_proto::tonic::metrics::v1::Metric;

use super::config::{
    def, filter, DeviceMatch, Enabled, FilesystemConfig, Filter, FsTypeMatch, MetricDef, MountPointMatch,
};
use super::emit::{double, gauge, int, sum, Times};
use super::host::{Host, Scraper};
use super::procfs::{self, Mount};
use crate::component::Invalid;

pub const METRICS: &[MetricDef] = &[
    def("system.filesystem.usage", true),
    def("system.filesystem.inodes.usage", true),
    def("system.filesystem.utilization", false),
];

pub struct FilesystemScraper {
    enabled: Enabled,
    virtual_too: bool,
    devices: Filter,
    fs_types: Filter,
    mount_points: Filter,
}

impl FilesystemScraper {
    pub fn new(c: &FilesystemConfig) -> Result<FilesystemScraper, Invalid> {
        let at = "scrapers.filesystem";
        let rename = |e: Invalid, key: &str| Invalid {
            path: e
                .path
                .replace(".include.", &format!(".include_{key}."))
                .replace(".exclude.", &format!(".exclude_{key}.")),
            ..e
        };
        Ok(FilesystemScraper {
            enabled: Enabled::resolve(METRICS, &c.metrics, &c.resource_attributes, at)?,
            virtual_too: c.include_virtual_filesystems,
            devices: filter(&c.include_devices, &c.exclude_devices, at, DeviceMatch::matcher)
                .map_err(|e| rename(e, "devices"))?,
            fs_types: filter(&c.include_fs_types, &c.exclude_fs_types, at, FsTypeMatch::matcher)
                .map_err(|e| rename(e, "fs_types"))?,
            mount_points: filter(&c.include_mount_points, &c.exclude_mount_points, at, MountPointMatch::matcher)
                .map_err(|e| rename(e, "mount_points"))?,
        })
    }

    /// Which mounts are reported: each mount point once (the last mount
    /// over it wins, as the kernel shows it), through the filters.
    pub fn select(&self, mounts: Vec<Mount>, device_types: &[String]) -> Vec<Mount> {
        let mut seen = std::collections::BTreeMap::new();
        for m in mounts {
            seen.insert(m.mountpoint.clone(), m);
        }
        seen.into_values()
            .filter(|m| self.virtual_too || device_types.contains(&m.fs_type))
            .filter(|m| {
                self.devices.allows(&m.device)
                    && self.fs_types.allows(&m.fs_type)
                    && self.mount_points.allows(&m.mountpoint)
            })
            .collect()
    }
}

/// statvfs figures in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Space {
    pub used: u64,
    /// available to unprivileged users
    pub free: u64,
    /// free but kept for root
    pub reserved: u64,
    pub inodes_used: u64,
    pub inodes_free: u64,
}

pub fn statvfs(path: &std::path::Path) -> Result<Space, String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: `c` is a valid NUL-terminated path and `s` a zeroed out-parameter statvfs fills.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(format!("statvfs {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    let frsize = s.f_frsize as u64;
    Ok(Space {
        used: (s.f_blocks as u64).saturating_sub(s.f_bfree as u64) * frsize,
        free: s.f_bavail as u64 * frsize,
        reserved: (s.f_bfree as u64).saturating_sub(s.f_bavail as u64) * frsize,
        inodes_used: (s.f_files as u64).saturating_sub(s.f_ffree as u64),
        inodes_free: s.f_ffree as u64,
    })
}

pub fn metrics(fs: &[(Mount, Space)], enabled: &Enabled, t: Times) -> Vec<Metric> {
    fn attrs(m: &Mount) -> Vec<(&'static str, &str)> {
        vec![
            ("device", m.device.as_str()),
            ("mode", m.mode()),
            ("mountpoint", m.mountpoint.as_str()),
            ("type", m.fs_type.as_str()),
        ]
    }
    fn with<'a>(m: &'a Mount, state: &'static str) -> Vec<(&'static str, &'a str)> {
        let mut a = attrs(m);
        a.push(("state", state));
        a
    }
    let mut out = Vec::new();
    if enabled.has("system.filesystem.usage") {
        let pts = fs
            .iter()
            .flat_map(|(m, s)| {
                [int(with(m, "used"), s.used), int(with(m, "free"), s.free), int(with(m, "reserved"), s.reserved)]
            })
            .collect();
        out.push(sum("system.filesystem.usage", "Filesystem bytes used.", "By", false, t, pts));
    }
    if enabled.has("system.filesystem.inodes.usage") {
        let pts = fs
            .iter()
            .flat_map(|(m, s)| [int(with(m, "used"), s.inodes_used), int(with(m, "free"), s.inodes_free)])
            .collect();
        out.push(sum("system.filesystem.inodes.usage", "FileSystem inodes used.", "{inodes}", false, t, pts));
    }
    if enabled.has("system.filesystem.utilization") {
        let pts = fs
            .iter()
            .map(|(m, s)| {
                double(attrs(m), if s.used + s.free == 0 { 0.0 } else { s.used as f64 / (s.used + s.free) as f64 })
            })
            .collect();
        out.push(gauge("system.filesystem.utilization", "Fraction of filesystem bytes used.", "1", t, pts));
    }
    out
}

impl Scraper for FilesystemScraper {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn scrape(&mut self, host: &Host, now: u64) -> Result<Vec<Metric>, String> {
        // PID 1's view is the host's when root_path points at its filesystem
        let mounts = host.read("/proc/1/mounts").or_else(|_| host.read("/proc/self/mounts"))?;
        let types = procfs::device_fs_types(&host.read("/proc/filesystems")?);
        let mut fs = Vec::new();
        for m in self.select(procfs::mounts(&mounts), &types) {
            match statvfs(&host.path(&m.mountpoint)) {
                Ok(s) => fs.push((m, s)),
                Err(e) => tracing::debug!(error = %e, "filesystem skipped"),
            }
        }
        if fs.is_empty() {
            return Ok(Vec::new());
        }
        Ok(metrics(&fs, &self.enabled, Times { start: host.started, now }))
    }
}
