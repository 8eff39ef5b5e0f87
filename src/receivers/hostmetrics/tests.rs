//! Config rules through the real config loader (errors with key paths), and
//! each scraper run against the recorded host under testdata/root, checked
//! point by point.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};

use super::*;
use crate::config::load_str;
use crate::registry::registry;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/receivers/hostmetrics/testdata/root");
const BOOT_NS: u64 = 1796282328 * 1_000_000_000;

fn yaml(receiver: &str) -> String {
    format!(
        "receivers:\n  hostmetrics:\n{receiver}exporters:\n  debug:\nservice:\n  pipelines:\n    metrics:\n      receivers: [hostmetrics]\n      exporters: [debug]\n"
    )
}

fn errors(receiver: &str) -> Vec<String> {
    load_str(&yaml(receiver), &registry()).unwrap_err().0.iter().map(ToString::to_string).collect()
}

/// The receiver section, written as JSON, parsed as the factory does.
fn config(json: &str) -> HostMetricsConfig {
    parse_section::<HostMetricsConfig>(serde_json::from_str(json).unwrap()).unwrap()
}

#[test]
fn defaults_are_upstreams() {
    let c = HostMetricsConfig::default();
    assert_eq!(c.collection_interval.0, std::time::Duration::from_secs(60));
    assert_eq!(c.initial_delay.0, std::time::Duration::from_secs(1));
    assert!(c.timeout.is_zero() && c.root_path.is_empty());
}

#[test]
fn a_full_config_loads() {
    let body = "    collection_interval: 10s\n    root_path: /hostfs\n    scrapers:\n      cpu:\n      memory:\n        metrics:\n          system.memory.utilization:\n            enabled: true\n      load:\n        cpu_average: true\n      disk:\n        exclude:\n          devices: ['^loop']\n          match_type: regexp\n      filesystem:\n        exclude_mount_points:\n          mount_points: [/dev/*, /proc/*]\n          match_type: regexp\n        include_fs_types:\n          fs_types: [ext4, xfs]\n          match_type: strict\n      network:\n        include:\n          interfaces: [eth0]\n          match_type: strict\n      paging:\n      processes:\n";
    load_str(&yaml(body), &registry()).unwrap();
}

#[test]
fn an_unknown_scraper_is_refused_at_its_key() {
    let e = errors("    scrapers:\n      cpu:\n      gpu:\n");
    assert!(e[0].contains("scrapers") && e[0].contains("gpu"), "{e:?}");
}

#[test]
fn the_process_scraper_is_refused_with_the_reason() {
    let e = errors("    scrapers:\n      process:\n        mute_process_name_error: true\n");
    assert!(e[0].contains("scrapers.process") && e[0].contains("per-process") && e[0].contains("`processes`"), "{e:?}");
}

#[test]
fn no_scrapers_is_an_error() {
    let e = errors("    collection_interval: 1s\n");
    assert!(e[0].contains("scrapers") && e[0].contains("at least one scraper"), "{e:?}");
}

#[test]
fn metric_toggles_are_checked_against_the_scrapers_metadata() {
    let e =
        errors("    scrapers:\n      cpu:\n        metrics:\n          system.cpu.tme:\n            enabled: true\n");
    assert!(e[0].contains("scrapers.cpu.metrics.system.cpu.tme") && e[0].contains("system.cpu.time"), "{e:?}");
    let e = errors("    scrapers:\n      memory:\n        metrics:\n          system.memory.linux.hugepages.usage:\n            enabled: true\n");
    assert!(e[0].contains("not implemented"), "{e:?}");
    let e = errors(
        "    scrapers:\n      memory:\n        resource_attributes:\n          host.name:\n            enabled: true\n",
    );
    assert!(e[0].contains("scrapers.memory.resource_attributes.host.name"), "{e:?}");
}

#[test]
fn filters_need_a_valid_match_type_and_patterns() {
    let e = errors("    scrapers:\n      disk:\n        include:\n          devices: [sda]\n");
    assert!(e[0].contains("scrapers.disk.include.match_type") && e[0].contains("strict or regexp"), "{e:?}");
    let e = errors("    scrapers:\n      filesystem:\n        exclude_devices:\n          devices: ['(']\n          match_type: regexp\n");
    assert!(
        e[0].contains("scrapers.filesystem.exclude_devices.match_type") && e[0].contains("regular expression"),
        "{e:?}"
    );
    let e = errors(
        "    scrapers:\n      network:\n        include:\n          devices: [eth0]\n          match_type: strict\n",
    );
    assert!(e[0].contains("devices"), "{e:?}");
}

#[test]
fn a_relative_root_path_and_a_zero_interval_are_refused() {
    let e = errors("    root_path: hostfs\n    scrapers:\n      cpu:\n");
    assert!(e[0].contains("root_path") && e[0].contains("absolute"), "{e:?}");
    let e = errors("    collection_interval: 0s\n    scrapers:\n      cpu:\n");
    assert!(e[0].contains("collection_interval"), "{e:?}");
}

/// name -> (attributes as sorted "k=v" joined by ",") -> value
type Points = BTreeMap<String, BTreeMap<String, f64>>;

fn points(metrics: &[Metric]) -> Points {
    let mut out = Points::new();
    for m in metrics {
        let dps = match m.data.as_ref().unwrap() {
            metric::Data::Sum(s) => &s.data_points,
            metric::Data::Gauge(g) => &g.data_points,
            _ => panic!("unexpected type"),
        };
        for p in dps {
            let mut attrs: Vec<String> = p
                .attributes
                .iter()
                .map(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(V::StringValue(s)) => format!("{}={s}", kv.key),
                    _ => panic!("non-string attribute"),
                })
                .collect();
            attrs.sort();
            let v = match p.value.unwrap() {
                number_data_point::Value::AsInt(i) => i as f64,
                number_data_point::Value::AsDouble(d) => d,
            };
            out.entry(m.name.clone()).or_default().insert(attrs.join(","), v);
        }
    }
    out
}

fn find<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("{name} missing"))
}

fn sum_of(m: &Metric) -> (bool, u64, bool) {
    match m.data.as_ref().unwrap() {
        metric::Data::Sum(s) => (s.is_monotonic, s.data_points[0].start_time_unix_nano, s.aggregation_temporality == 2),
        _ => panic!("{} is not a sum", m.name),
    }
}

fn run(body: &str) -> Vec<Metric> {
    let c = config(body);
    let mut s = build_scrapers(&c).unwrap();
    assert_eq!(s.len(), 1);
    s[0].scrape(&Host::new(ROOT), 5).unwrap()
}

#[test]
fn cpu_time_per_cpu_and_state_since_boot() {
    let m = run(r#"{"scrapers": {"cpu": null}}"#);
    assert_eq!(m.len(), 1);
    let t = find(&m, "system.cpu.time");
    assert_eq!((t.unit.as_str(), sum_of(t)), ("s", (true, BOOT_NS, true)));
    let p = &points(&m)["system.cpu.time"];
    assert_eq!(p.len(), 16);
    assert_eq!(p["cpu=cpu0,state=user"], 2438.73);
    assert_eq!(p["cpu=cpu1,state=wait"], 14.44);
    assert_eq!(p["cpu=cpu1,state=steal"], 21.15);
    assert_eq!(p["cpu=cpu0,state=interrupt"], 0.0);
}

#[test]
fn cpu_utilization_is_the_share_between_two_scrapes() {
    let a = procfs::stat("cpu0 100 0 100 200 0 0 0 0\n").unwrap();
    let b = procfs::stat("cpu0 150 0 100 250 0 0 0 0\n").unwrap();
    let u: BTreeMap<_, _> = cpu::utilization(&a.cpus[0], &b.cpus[0]).into_iter().collect();
    assert_eq!((u["user"], u["idle"], u["system"]), (0.5, 0.5, 0.0));
    // first scrape has nothing to compare with; the second reports
    let c = config(
        r#"{"scrapers": {"cpu": {"metrics": {"system.cpu.utilization": {"enabled": true}, "system.cpu.logical.count": {"enabled": true}}}}}"#,
    );
    let mut s = build_scrapers(&c).unwrap();
    let first = s[0].scrape(&Host::new(ROOT), 1).unwrap();
    assert!(first.iter().all(|m| m.name != "system.cpu.utilization"));
    assert_eq!(points(&first)["system.cpu.logical.count"][""], 2.0);
    let second = s[0].scrape(&Host::new(ROOT), 2).unwrap();
    assert_eq!(points(&second)["system.cpu.utilization"]["cpu=cpu0,state=idle"], 0.0);
}

#[test]
fn memory_states_partition_memtotal() {
    let m = run(r#"{"scrapers": {"memory": {"metrics": {"system.memory.limit": {"enabled": true}}}}}"#);
    let p = points(&m);
    let u = &p["system.memory.usage"];
    let kib = |k: u64| (k * 1024) as f64;
    assert_eq!(u["state=free"], kib(1017068));
    assert_eq!(u["state=buffered"], kib(70500));
    assert_eq!(u["state=cached"], kib(21080528));
    assert_eq!(u["state=slab_reclaimable"], kib(589628));
    assert_eq!(u["state=slab_unreclaimable"], kib(96852));
    assert_eq!(u["state=used"], kib(24683664 - 1017068 - 70500 - 21080528 - 589628 - 96852));
    assert_eq!(u.values().sum::<f64>(), kib(24683664));
    assert_eq!(p["system.memory.limit"][""], kib(24683664));
    assert!(!sum_of(find(&m, "system.memory.usage")).0);
}

#[test]
fn load_averages_and_cpu_average() {
    let p = points(&run(r#"{"scrapers": {"load": null}}"#));
    assert_eq!(p["system.cpu.load_average.1m"][""], 12.98);
    assert_eq!(p["system.cpu.load_average.15m"][""], 12.58);
    let p = points(&run(r#"{"scrapers": {"load": {"cpu_average": true}}}"#));
    assert_eq!(p["system.cpu.load_average.5m"][""], 14.38 / 2.0);
}

#[test]
fn disk_metrics_per_device_and_direction_with_filters() {
    let m = run(r#"{"scrapers": {"disk": {"exclude": {"devices": ["^loop"], "match_type": "regexp"}}}}"#);
    assert_eq!(m.len(), 7);
    let p = points(&m);
    assert_eq!(p["system.disk.io"]["device=vda,direction=read"], (2437074u64 * 512) as f64);
    assert_eq!(p["system.disk.operations"]["device=vda,direction=write"], 356214.0);
    assert_eq!(p["system.disk.io_time"]["device=vda"], 545.672);
    assert_eq!(p["system.disk.operation_time"]["device=vda,direction=write"], 1020.871);
    assert_eq!(p["system.disk.weighted_io_time"]["device=vdb"], 0.035);
    assert_eq!(p["system.disk.pending_operations"]["device=vdb"], 3.0);
    assert_eq!(p["system.disk.merged"]["device=vda,direction=read"], 7446.0);
    assert!(p["system.disk.io"].keys().all(|k| !k.contains("loop")));
    assert_eq!(sum_of(find(&m, "system.disk.io")), (true, BOOT_NS, true));
    let m = run(r#"{"scrapers": {"disk": {"include": {"devices": ["vdb"], "match_type": "strict"}}}}"#);
    assert_eq!(points(&m)["system.disk.io"].len(), 2);
}

#[test]
fn filesystem_reports_device_backed_mounts_with_statvfs_figures() {
    let m = run(r#"{"scrapers": {"filesystem": {"metrics": {"system.filesystem.utilization": {"enabled": true}}}}}"#);
    let p = points(&m);
    let usage = &p["system.filesystem.usage"];
    // /proc and /dev/shm are virtual: left out by default
    assert_eq!(usage.len(), 3, "{usage:?}");
    let key = |s: &str| format!("device=/dev/vda,mode=rw,mountpoint=/,state={s},type=ext4");
    let s = filesystem::statvfs(std::path::Path::new(ROOT)).unwrap();
    assert_eq!(usage[&key("free")], s.free as f64);
    assert!(usage[&key("used")] > 0.0);
    assert_eq!(p["system.filesystem.inodes.usage"].len(), 2);
    let util = p["system.filesystem.utilization"]["device=/dev/vda,mode=rw,mountpoint=/,type=ext4"];
    assert!(util > 0.0 && util < 1.0);
    let m = run(
        r#"{"scrapers": {"filesystem": {"include_virtual_filesystems": true, "exclude_fs_types": {"fs_types": ["proc"], "match_type": "strict"}}}}"#,
    );
    let mounts: std::collections::BTreeSet<String> = points(&m)["system.filesystem.usage"]
        .keys()
        .map(|k| k.split(',').find(|a| a.starts_with("mountpoint")).unwrap().to_owned())
        .collect();
    assert_eq!(mounts.into_iter().collect::<Vec<_>>(), ["mountpoint=/", "mountpoint=/dev/shm"]);
}

#[test]
fn network_counters_and_tcp_connections_by_state() {
    let m = run(r#"{"scrapers": {"network": {"include": {"interfaces": ["lo"], "match_type": "strict"}}}}"#);
    let p = points(&m);
    assert_eq!(
        p["system.network.io"],
        BTreeMap::from([
            ("device=lo,direction=receive".into(), 773603513.0),
            ("device=lo,direction=transmit".into(), 773603513.0)
        ])
    );
    assert_eq!(p["system.network.packets"]["device=lo,direction=transmit"], 308022.0);
    assert_eq!(p["system.network.errors"].len(), 2);
    assert_eq!(p["system.network.dropped"].len(), 2);
    let c = &p["system.network.connections"];
    assert_eq!(c["protocol=tcp,state=ESTABLISHED"], 2.0);
    assert_eq!(c["protocol=tcp,state=LISTEN"], 1.0);
    assert_eq!(c["protocol=tcp,state=TIME_WAIT"], 1.0);
    assert_eq!(c["protocol=tcp,state=SYN_RECV"], 0.0);
    assert_eq!(c["protocol=tcp,state=DELETE"], 0.0);
    assert_eq!(c.len(), 12);
    assert_eq!(c.values().sum::<f64>(), 4.0);
}

#[test]
fn paging_usage_per_swap_device_and_counters_since_boot() {
    let m = run(r#"{"scrapers": {"paging": null}}"#);
    let p = points(&m);
    let u = &p["system.paging.usage"];
    assert_eq!(u["device=/dev/vdb2,state=used"], (1024 * 1024) as f64);
    assert_eq!(u["device=/dev/vdb2,state=free"], ((2097148 - 1024) * 1024) as f64);
    assert_eq!(u["device=/swap\\040file,state=free"], (1048572 * 1024) as f64);
    assert_eq!(u.len(), 4);
    assert_eq!(sum_of(find(&m, "system.paging.usage")), (false, BOOT_NS, true));
    let o = &p["system.paging.operations"];
    assert_eq!(o["direction=page_in,type=minor"], 37084897.0);
    assert_eq!(o["direction=page_out,type=major"], 0.0);
    assert_eq!(p["system.paging.faults"]["type=major"], 43777.0);
    assert_eq!(p["system.paging.faults"]["type=minor"], (141271040 - 43777) as f64);
    assert_eq!(sum_of(find(&m, "system.paging.faults")), (true, BOOT_NS, true));
}

#[test]
fn processes_by_status_and_created() {
    let m = run(r#"{"scrapers": {"processes": null}}"#);
    let p = points(&m);
    // per process: 2 sleeping, 1 running, 1 zombie; /proc/stat: 15 running, 0 blocked;
    // /proc/loadavg: 219 in all, so 219 - 18 unknown
    let want = [("blocked", 0.0), ("running", 15.0), ("sleeping", 2.0), ("unknown", 201.0), ("zombies", 1.0)];
    let want: BTreeMap<String, f64> = want.iter().map(|(s, n)| (format!("status={s}"), *n)).collect();
    assert_eq!(p["system.processes.count"], want);
    assert_eq!(processes::status('D'), "blocked");
    assert_eq!(processes::status('t'), "stopped");
    assert_eq!(processes::status('X'), "unknown");
    assert_eq!(p["system.processes.created"][""], 108543.0);
    assert_eq!(sum_of(find(&m, "system.processes.created")), (true, BOOT_NS, true));
}

#[test]
fn a_missing_file_fails_that_scraper_only() {
    let dir = std::env::temp_dir().join(format!("hostmetrics-missing-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("proc")).unwrap();
    std::fs::copy(format!("{ROOT}/proc/loadavg"), dir.join("proc/loadavg")).unwrap();
    let c = config(r#"{"scrapers": {"cpu": null, "load": null}}"#);
    let mut s = build_scrapers(&c).unwrap();
    let host = Host::new(dir.to_str().unwrap());
    assert!(s[0].scrape(&host, 1).unwrap_err().contains("proc/stat"));
    let r = scrape_all(&mut s, &host, "hostmetrics");
    assert_eq!(r.scope_metrics.len(), 1);
    assert!(r.scope_metrics[0].scope.as_ref().unwrap().name.ends_with("/loadscraper"));
    assert_eq!(r.scope_metrics[0].metrics.len(), 3);
    std::fs::remove_dir_all(dir).unwrap();
}
