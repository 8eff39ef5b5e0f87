//! The parsers on text recorded from a Linux 6.x host (testdata/root/proc)
//! and on the edge cases older and newer kernels produce.

use super::*;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/receivers/hostmetrics/testdata/root/proc/");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}{name}")).unwrap()
}

#[test]
fn stat_reads_per_cpu_lines_in_seconds_and_the_counters() {
    let s = stat(&fixture("stat")).unwrap();
    assert_eq!(s.cpus.len(), 2);
    let c0 = &s.cpus[0];
    assert_eq!(c0.cpu, "cpu0");
    assert_eq!((c0.user, c0.nice, c0.system, c0.idle), (2438.73, 0.0, 337.43, 215.36));
    assert_eq!((c0.iowait, c0.irq, c0.softirq, c0.steal), (9.82, 0.0, 1.11, 17.03));
    assert_eq!(s.btime, Some(1796282328));
    assert_eq!(s.processes, Some(108543));
    assert_eq!((s.procs_running, s.procs_blocked), (Some(15), Some(0)));
}

#[test]
fn stat_takes_old_short_cpu_lines_and_ignores_fields_newer_kernels_add() {
    let s = stat("cpu 1 2 3 4\ncpu0 100 200 300 400\ncpu1 1 2 3 4 5 6 7 8 9 10 11 12 13\n").unwrap();
    assert_eq!(s.cpus[0].idle, 4.0);
    assert_eq!((s.cpus[0].iowait, s.cpus[0].steal), (0.0, 0.0));
    assert_eq!(s.cpus[1].steal, 0.08);
    assert_eq!(s.btime, None);
}

#[test]
fn stat_without_cpu_lines_or_with_garbage_is_an_error() {
    assert!(stat("btime 5\n").unwrap_err().contains("no per-CPU lines"));
    assert!(stat("cpu0 1 x 3\n").unwrap_err().contains("cpu0"));
}

#[test]
fn meminfo_is_in_bytes() {
    let m = meminfo(&fixture("meminfo"));
    assert_eq!(m["MemTotal"], 24683664 * 1024);
    assert_eq!(m["SUnreclaim"], 96852 * 1024);
    // HugePages_Total has no unit: a count, kept as is
    assert_eq!(meminfo("HugePages_Total:       3\n")["HugePages_Total"], 3);
}

#[test]
fn loadavg_is_three_numbers() {
    assert_eq!(loadavg(&fixture("loadavg")).unwrap(), [12.98, 14.38, 12.58]);
    assert!(loadavg("1.0 2.0\n").is_err());
    assert_eq!(loadavg_total(&fixture("loadavg")), Some(219));
    assert_eq!(loadavg_total("1.0 2.0 3.0\n"), None);
}

#[test]
fn diskstats_in_bytes_and_ms_with_or_without_the_discard_fields() {
    let d = diskstats(&fixture("diskstats"));
    assert_eq!(d.iter().map(|d| d.device.as_str()).collect::<Vec<_>>(), ["loop0", "vda", "vdb"]);
    let vda = &d[1];
    assert_eq!((vda.reads, vda.reads_merged, vda.read_bytes, vda.read_ms), (21950, 7446, 2437074 * 512, 14286));
    assert_eq!(
        (vda.writes, vda.writes_merged, vda.write_bytes, vda.write_ms),
        (356214, 373025, 41356560 * 512, 1020871)
    );
    assert_eq!((vda.in_progress, vda.io_ms, vda.weighted_ms), (0, 545672, 1102010));
    // pre-4.18 kernels: 14 fields
    assert_eq!((d[2].in_progress, d[2].io_ms, d[2].weighted_ms), (3, 60, 35));
    assert!(diskstats("8 0 sda 1 2 3\n").is_empty());
}

#[test]
fn net_dev_skips_headers() {
    let n = net_dev(&fixture("net/dev"));
    let lo = n.iter().find(|d| d.interface == "lo").unwrap();
    assert_eq!((lo.rx_bytes, lo.rx_packets, lo.tx_bytes, lo.tx_packets), (773603513, 308022, 773603513, 308022));
    assert!(n.iter().all(|d| d.interface != "face |bytes"));
}

#[test]
fn tcp_states_are_counted_by_gopsutil_name() {
    let mut c = BTreeMap::new();
    tcp_states(&fixture("net/tcp"), &mut c);
    assert_eq!(c, BTreeMap::from([("ESTABLISHED".into(), 2), ("LISTEN".into(), 1), ("TIME_WAIT".into(), 1)]));
}

#[test]
fn mounts_unescape_paths_and_know_their_mode() {
    let m = mounts("/dev/sda1 /mnt/my\\040disk ext4 ro,noatime 0 0\nproc /proc proc rw 0 0\nx /y z nosuid 0 0\n");
    assert_eq!(m[0].mountpoint, "/mnt/my disk");
    assert_eq!(m[0].mode(), "ro");
    assert_eq!(m[1].mode(), "rw");
    assert_eq!(m[2].mode(), "unknown");
}

#[test]
fn device_backed_filesystem_types() {
    let t = device_fs_types(&fixture("filesystems"));
    assert!(t.contains(&"ext4".to_owned()));
    assert!(!t.contains(&"tmpfs".to_owned()) && !t.contains(&"proc".to_owned()));
}

#[test]
fn swaps_in_bytes_and_an_empty_table() {
    let s = swaps(&fixture("swaps"));
    assert_eq!(s[0], Swap { device: "/dev/vdb2".into(), size: 2097148 * 1024, used: 1024 * 1024 });
    assert_eq!(s[1].device, "/swap\\040file");
    assert!(swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
}

#[test]
fn process_state_after_a_command_with_parentheses() {
    assert_eq!(process_state(&fixture("43/stat")), Some('R'));
    assert_eq!(process_state(&fixture("42/stat")), Some('S'));
    assert_eq!(process_state("garbage"), None);
}

#[test]
fn cpuinfo_frequencies_and_physical_cores() {
    let text = "processor\t: 0\ncpu MHz\t\t: 2400.000\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                processor\t: 1\ncpu MHz\t\t: 2600.5\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                processor\t: 2\ncpu MHz\t\t: 1000\nphysical id\t: 0\ncore id\t\t: 1\n";
    assert_eq!(cpuinfo(text), (vec![2400.0, 2600.5, 1000.0], 2));
}
