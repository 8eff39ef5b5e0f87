//! The receiver run against real files and a collecting consumer.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::any_value;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::checkpoint::Checkpoints;
use super::tailer::Tailer;
use super::FileLogConfig;
use crate::component::parse_section;
use crate::otlp::data::Decoded;
use crate::runtime::StorageSettings;
use crate::telemetry::Telemetry;
use crate::testkit::CollectSink;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("filelog-rx-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn append(p: &Path, s: &str) {
    std::fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
}

fn tailer(cfg: serde_json::Value, sink: Arc<CollectSink>, storage: Option<&Path>) -> Tailer {
    let c: FileLogConfig = parse_section(cfg).unwrap();
    let ckpt = storage.map(|d| {
        Checkpoints::new(&StorageSettings { directory: d.into(), timeout: Default::default(), fsync: false }, "filelog")
    });
    let metrics = Telemetry::new().receiver(crate::signal::Signal::Logs, "filelog", "");
    Tailer::new("filelog".into(), &c, ckpt, sink, metrics).unwrap()
}

/// Bodies and `log.file.name` of every record that arrived, in order.
fn bodies(sink: &CollectSink) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for b in sink.batches.lock().unwrap().iter() {
        let Decoded::Logs(rl) = b.decoded().unwrap() else { panic!("not logs") };
        for r in rl.into_iter().flat_map(|r| r.scope_logs).flat_map(|s| s.log_records) {
            let Some(any_value::Value::StringValue(body)) = r.body.unwrap().value else { panic!("not a string") };
            let name = r.attributes.iter().find(|a| a.key == "log.file.name");
            let name = name.and_then(|a| a.value.clone()).and_then(|v| v.value);
            let name = match name {
                Some(any_value::Value::StringValue(s)) => s,
                _ => String::new(),
            };
            out.push((body, name));
        }
    }
    out
}

fn strs(v: &[(String, String)]) -> Vec<&str> {
    v.iter().map(|(b, _)| b.as_str()).collect()
}

#[tokio::test]
async fn start_at_end_reads_only_new_lines_in_order_with_the_file_name() {
    let d = dir();
    let log = d.join("app.log");
    append(&log, "old\n");
    let sink = Arc::new(CollectSink::default());
    let mut t = tailer(json!({"include": [format!("{}/*.log", d.display())]}), sink.clone(), None);
    let stop = CancellationToken::new();
    t.poll(&stop).await.ok();
    append(&log, "one\ntwo\nthr");
    t.poll(&stop).await.ok();
    append(&log, "ee\n");
    t.poll(&stop).await.ok();
    let got = bodies(&sink);
    assert_eq!(strs(&got), ["one", "two", "three"]);
    assert!(got.iter().all(|(_, n)| n == "app.log"));
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn a_refused_batch_keeps_its_offset_and_is_sent_again() {
    let d = dir();
    let log = d.join("a.log");
    append(&log, "x1\nx2\n");
    let sink = Arc::new(CollectSink::default());
    *sink.refuse_next.lock().unwrap() = 2;
    let cfg = json!({"include": [log.display().to_string()], "start_at": "beginning", "retry_on_failure": {"initial_interval": "10ms"}});
    let mut t = tailer(cfg, sink.clone(), None);
    t.poll(&CancellationToken::new()).await.ok();
    assert_eq!(strs(&bodies(&sink)), ["x1", "x2"]);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn checkpoints_carry_offsets_across_restarts() {
    let d = dir();
    let (log, store) = (d.join("a.log"), d.join("store"));
    std::fs::create_dir_all(&store).unwrap();
    append(&log, "before\n");
    let cfg = json!({"include": [log.display().to_string()], "start_at": "beginning", "storage": "file_storage"});
    let first = Arc::new(CollectSink::default());
    tailer(cfg.clone(), first.clone(), Some(&store)).poll(&CancellationToken::new()).await.ok();
    append(&log, "while down\n");
    let second = Arc::new(CollectSink::default());
    tailer(cfg, second.clone(), Some(&store)).poll(&CancellationToken::new()).await.ok();
    assert_eq!(strs(&bodies(&first)), ["before"]);
    assert_eq!(strs(&bodies(&second)), ["while down"]);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one() {
    let d = dir();
    let (log, old) = (d.join("app.log"), d.join("app.log.1"));
    append(&log, "a\n");
    let sink = Arc::new(CollectSink::default());
    let mut t = tailer(json!({"include": [log.display().to_string()], "start_at": "beginning"}), sink.clone(), None);
    let stop = CancellationToken::new();
    t.poll(&stop).await.ok();
    append(&log, "b\n");
    std::fs::rename(&log, &old).unwrap();
    append(&log, "c\n");
    t.poll(&stop).await.ok();
    t.poll(&stop).await.ok();
    assert_eq!(strs(&bodies(&sink)), ["a", "b", "c"]);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn multiline_entries_and_operators_and_resource() {
    let d = dir();
    let log = d.join("java.log");
    append(&log, "2024-01-01 ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)\n2024-01-01 INFO fine\n");
    let sink = Arc::new(CollectSink::default());
    let cfg = json!({"include": [log.display().to_string()], "start_at": "beginning", "force_flush_period": "0s",
        "multiline": {"line_start_pattern": "^\\d{4}-"}, "resource": {"service.name": "batch"},
        "operators": [{"type": "regex_parser", "regex": "^\\S+ (?P<level>\\w+)", "severity": {"parse_from": "attributes.level"}}]});
    let mut t = tailer(cfg, sink.clone(), None);
    t.poll(&CancellationToken::new()).await.ok();
    assert_eq!(
        strs(&bodies(&sink)),
        ["2024-01-01 ERROR boom\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)", "2024-01-01 INFO fine"]
    );
    let Decoded::Logs(rl) = sink.batches.lock().unwrap()[0].decoded().unwrap() else { panic!() };
    assert_eq!(rl[0].resource.as_ref().unwrap().attributes[0].key, "service.name");
    let sev: Vec<i32> = rl[0].scope_logs[0].log_records.iter().map(|r| r.severity_number).collect();
    assert_eq!(sev, [17, 9]);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn more_files_than_max_concurrent_files_are_read_in_batches() {
    let d = dir();
    for n in ["a", "b", "c"] {
        append(&d.join(format!("{n}.log")), &format!("from {n}\n"));
    }
    let sink = Arc::new(CollectSink::default());
    let cfg =
        json!({"include": [format!("{}/*.log", d.display())], "start_at": "beginning", "max_concurrent_files": 2});
    let mut t = tailer(cfg, sink.clone(), None);
    let stop = CancellationToken::new();
    t.poll(&stop).await.ok();
    assert_eq!(strs(&bodies(&sink)), ["from a", "from b"]);
    t.poll(&stop).await.ok();
    assert_eq!(strs(&bodies(&sink)), ["from a", "from b", "from c"]);
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn resolved_names_follow_symlinks() {
    let d = dir();
    let real = d.join("real-2024.log");
    append(&real, "x\n");
    std::os::unix::fs::symlink(&real, d.join("current.log")).unwrap();
    let sink = Arc::new(CollectSink::default());
    let cfg = json!({"include": [d.join("current.log").display().to_string()], "start_at": "beginning",
        "include_file_path": true, "include_file_name_resolved": true, "include_file_path_resolved": true});
    tailer(cfg, sink.clone(), None).poll(&CancellationToken::new()).await.ok();
    let Decoded::Logs(rl) = sink.batches.lock().unwrap()[0].decoded().unwrap() else { panic!() };
    let attrs: Vec<(String, String)> = rl[0].scope_logs[0].log_records[0]
        .attributes
        .iter()
        .map(|a| match a.value.clone().unwrap().value.unwrap() {
            any_value::Value::StringValue(s) => (a.key.clone(), s),
            other => panic!("{other:?}"),
        })
        .collect();
    let real = std::fs::canonicalize(&real).unwrap();
    assert_eq!(
        attrs,
        [
            ("log.file.name".to_owned(), "current.log".to_owned()),
            ("log.file.name_resolved".to_owned(), "real-2024.log".to_owned()),
            ("log.file.path".to_owned(), d.join("current.log").display().to_string()),
            ("log.file.path_resolved".to_owned(), real.display().to_string()),
        ]
    );
    std::fs::remove_dir_all(d).unwrap();
}

#[tokio::test]
async fn a_renamed_file_is_followed_until_it_has_been_quiet_for_force_flush_period() {
    let d = dir();
    let (log, old) = (d.join("app.log"), d.join("app.log.1"));
    append(&log, "a\n");
    let sink = Arc::new(CollectSink::default());
    let cfg = json!({"include": [log.display().to_string()], "start_at": "beginning", "force_flush_period": "1h"});
    let mut t = tailer(cfg, sink.clone(), None);
    let stop = CancellationToken::new();
    t.poll(&stop).await.ok();
    std::fs::rename(&log, &old).unwrap();
    t.poll(&stop).await.ok();
    t.poll(&stop).await.ok();
    // the application has not reopened its log yet
    append(&old, "late\n");
    append(&log, "new\n");
    t.poll(&stop).await.ok();
    assert_eq!(strs(&bodies(&sink)), ["a", "late", "new"]);
    std::fs::remove_dir_all(d).unwrap();
}
