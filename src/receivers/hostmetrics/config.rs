//! The `hostmetrics` receiver's config, as otelcol-contrib's
//! receiver/hostmetricsreceiver reads it: `collection_interval`,
//! `initial_delay`, `timeout`, `root_path` and the `scrapers` map, each
//! scraper with its own options and `metrics: <name>: enabled` toggles.

use std::collections::BTreeMap;

use regex::Regex;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::component::Invalid;
use crate::config::types::GoDuration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostMetricsConfig {
    pub collection_interval: GoDuration,
    pub initial_delay: GoDuration,
    /// 0 means no timeout, as upstream's scraper controller
    pub timeout: GoDuration,
    /// where the host's root is mounted when running in a container
    /// (`/hostfs`): /proc and mount points are read under it
    pub root_path: String,
    pub scrapers: Scrapers,
}

impl Default for HostMetricsConfig {
    fn default() -> Self {
        HostMetricsConfig {
            collection_interval: GoDuration::secs(60),
            initial_delay: GoDuration::secs(1),
            timeout: GoDuration::default(),
            root_path: String::new(),
            scrapers: Scrapers::default(),
        }
    }
}

/// Present scrapers are `Some`, even when written `cpu:` with nothing after it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scrapers {
    #[serde(default, deserialize_with = "present")]
    pub cpu: Option<Common>,
    #[serde(default, deserialize_with = "present")]
    pub memory: Option<Common>,
    #[serde(default, deserialize_with = "present")]
    pub load: Option<LoadConfig>,
    #[serde(default, deserialize_with = "present")]
    pub disk: Option<DiskConfig>,
    #[serde(default, deserialize_with = "present")]
    pub filesystem: Option<FilesystemConfig>,
    #[serde(default, deserialize_with = "present")]
    pub network: Option<NetworkConfig>,
    #[serde(default, deserialize_with = "present")]
    pub paging: Option<Common>,
    #[serde(default, deserialize_with = "present")]
    pub processes: Option<Common>,
    /// refused in validation, with the reason
    #[serde(default, deserialize_with = "present")]
    pub process: Option<Value>,
    /// refused in validation, with the reason
    #[serde(default, deserialize_with = "present")]
    pub uptime: Option<Value>,
    /// refused in validation, with the reason
    #[serde(default, deserialize_with = "present")]
    pub system: Option<Value>,
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// `metrics:` and `resource_attributes:`, which every scraper has.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Common {
    pub metrics: BTreeMap<String, Toggle>,
    pub resource_attributes: BTreeMap<String, Toggle>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadConfig {
    pub metrics: BTreeMap<String, Toggle>,
    pub resource_attributes: BTreeMap<String, Toggle>,
    /// divide the averages by the number of logical CPUs
    pub cpu_average: bool,
}

macro_rules! match_list {
    ($name:ident, $field:ident) => {
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            #[serde(default)]
            pub $field: Vec<String>,
            #[serde(default)]
            pub match_type: String,
        }

        impl $name {
            pub fn matcher(&self) -> Result<Matcher, String> {
                Matcher::new(&self.$field, &self.match_type)
            }
        }
    };
}

match_list!(DeviceMatch, devices);
match_list!(InterfaceMatch, interfaces);
match_list!(FsTypeMatch, fs_types);
match_list!(MountPointMatch, mount_points);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiskConfig {
    pub metrics: BTreeMap<String, Toggle>,
    pub resource_attributes: BTreeMap<String, Toggle>,
    pub include: Option<DeviceMatch>,
    pub exclude: Option<DeviceMatch>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    pub metrics: BTreeMap<String, Toggle>,
    pub resource_attributes: BTreeMap<String, Toggle>,
    pub include: Option<InterfaceMatch>,
    pub exclude: Option<InterfaceMatch>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesystemConfig {
    pub metrics: BTreeMap<String, Toggle>,
    pub resource_attributes: BTreeMap<String, Toggle>,
    pub include_virtual_filesystems: bool,
    pub include_devices: Option<DeviceMatch>,
    pub exclude_devices: Option<DeviceMatch>,
    pub include_fs_types: Option<FsTypeMatch>,
    pub exclude_fs_types: Option<FsTypeMatch>,
    pub include_mount_points: Option<MountPointMatch>,
    pub exclude_mount_points: Option<MountPointMatch>,
}

/// otelcol's filterset: `strict` compares whole strings, `regexp` finds the
/// pattern anywhere in the name (Go's `MatchString`, unanchored).
#[derive(Debug, Clone)]
pub enum Matcher {
    Strict(Vec<String>),
    Regexp(Vec<Regex>),
}

impl Matcher {
    fn new(items: &[String], match_type: &str) -> Result<Matcher, String> {
        match match_type {
            "strict" => Ok(Matcher::Strict(items.to_vec())),
            "regexp" => items
                .iter()
                .map(|p| Regex::new(p).map_err(|e| format!("{p:?} is not a valid regular expression: {e}")))
                .collect::<Result<_, _>>()
                .map(Matcher::Regexp),
            other => {
                Err(format!("match_type {other:?} is not one of strict, regexp; set match_type: strict or regexp"))
            }
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Strict(items) => items.iter().any(|i| i == name),
            Matcher::Regexp(res) => res.iter().any(|r| r.is_match(name)),
        }
    }
}

/// An include/exclude pair: a name passes when it matches `include` (if
/// set) and does not match `exclude` (if set).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub include: Option<Matcher>,
    pub exclude: Option<Matcher>,
}

impl Filter {
    pub fn allows(&self, name: &str) -> bool {
        self.include.as_ref().is_none_or(|m| m.matches(name)) && !self.exclude.as_ref().is_some_and(|m| m.matches(name))
    }
}

/// One metric a scraper knows: its name, whether otelcol enables it by
/// default, and whether otelstack computes it.
pub struct MetricDef {
    pub name: &'static str,
    pub default: bool,
    pub implemented: bool,
}

pub const fn def(name: &'static str, default: bool) -> MetricDef {
    MetricDef { name, default, implemented: true }
}

pub const fn later(name: &'static str) -> MetricDef {
    MetricDef { name, default: false, implemented: false }
}

/// The metrics a scraper emits after the toggles: checked against the
/// scraper's metadata so an unknown name is an error, not a silent no-op.
#[derive(Debug, Clone, Default)]
pub struct Enabled(Vec<&'static str>);

impl Enabled {
    pub fn resolve(
        defs: &[MetricDef],
        metrics: &BTreeMap<String, Toggle>,
        resource_attributes: &BTreeMap<String, Toggle>,
        at: &str,
    ) -> Result<Enabled, Invalid> {
        if let Some(name) = resource_attributes.keys().next() {
            return Err(Invalid::at(
                format!("{at}.resource_attributes.{name}"),
                "this scraper has no resource attributes; remove the setting",
            ));
        }
        for (name, t) in metrics {
            let Some(d) = defs.iter().find(|d| d.name == name) else {
                let known: Vec<&str> = defs.iter().map(|d| d.name).collect();
                return Err(Invalid::at(
                    format!("{at}.metrics.{name}"),
                    format!("is not a metric of this scraper; it has {}", known.join(", ")),
                ));
            };
            if t.enabled && !d.implemented {
                return Err(Invalid::at(
                    format!("{at}.metrics.{name}"),
                    "is not implemented by otelstack yet; remove the setting or set enabled: false",
                ));
            }
        }
        let on = defs.iter().filter(|d| metrics.get(d.name).map_or(d.default, |t| t.enabled)).map(|d| d.name).collect();
        Ok(Enabled(on))
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

pub fn filter<M>(
    include: &Option<M>,
    exclude: &Option<M>,
    at: &str,
    m: fn(&M) -> Result<Matcher, String>,
) -> Result<Filter, Invalid> {
    let one = |o: &Option<M>, key: &str| {
        o.as_ref().map(m).transpose().map_err(|e| Invalid::at(format!("{at}.{key}.match_type"), e))
    };
    Ok(Filter { include: one(include, "include")?, exclude: one(exclude, "exclude")? })
}

impl HostMetricsConfig {
    pub(super) fn check(&self) -> Result<(), Invalid> {
        if self.collection_interval.is_zero() {
            return Err(Invalid::at("collection_interval", "must be greater than 0, e.g. 1m"));
        }
        if !self.root_path.is_empty() && !std::path::Path::new(&self.root_path).is_absolute() {
            return Err(Invalid::at("root_path", "must be an absolute path, e.g. /hostfs"));
        }
        for (key, set) in [("uptime", self.scrapers.uptime.is_some()), ("system", self.scrapers.system.is_some())] {
            if set {
                return Err(Invalid::at(
                    format!("scrapers.{key}"),
                    "is not supported: otelstack implements the cpu, memory, load, disk, filesystem, network, \
                     paging and processes scrapers; remove it (the process start time is in \
                     process_start_time_seconds of the collector's own metrics)",
                ));
            }
        }
        if self.scrapers.process.is_some() {
            return Err(Invalid::at(
                "scrapers.process",
                "the per-process scraper is not supported: it reads every process's /proc entries each \
                 interval and emits series per process, a separate and much heavier component; use the \
                 `processes` scraper for process counts",
            ));
        }
        Ok(())
    }
}
