//! The log settings checked on what reaches a file output.

use super::*;

fn logs(v: serde_json::Value) -> LogsTelemetry {
    crate::component::parse_section::<LogsTelemetry>(v).unwrap()
}

fn temp_file(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("otelstack-logs-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_str().unwrap().to_owned()
}

/// Runs `emit` under the subscriber `cfg` builds and returns the file's lines.
fn lines_of(cfg: serde_json::Value, path: &str, emit: impl FnOnce()) -> Vec<String> {
    let s = subscriber(&logs(cfg)).unwrap();
    tracing::subscriber::with_default(s, emit);
    std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

#[test]
fn json_lines_with_initial_fields_and_caller_go_to_every_output_path() {
    let (a, b) = (temp_file("a.log"), temp_file("b.log"));
    let cfg =
        serde_json::json!({"encoding": "json", "output_paths": [a, b], "initial_fields": {"env": "prod", "n": 3}});
    let lines = lines_of(cfg, &a, || {
        tracing::info!(exporter = "otlp", "sent");
        tracing::debug!("below the level");
    });
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["env"], "prod");
    assert_eq!(v["n"], 3);
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "sent");
    assert_eq!(v["fields"]["exporter"], "otlp");
    assert!(v["filename"].as_str().unwrap().ends_with("logging_tests.rs"), "{v}");
    assert_eq!(std::fs::read_to_string(&b).unwrap().lines().count(), 1);
}

#[test]
fn console_lines_without_caller_carry_the_initial_fields_at_the_end() {
    let a = temp_file("c.log");
    let cfg = serde_json::json!({"output_paths": [a], "disable_caller": true, "initial_fields": {"env": "prod"}});
    let lines = lines_of(cfg, &a, || tracing::warn!("careful"));
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("WARN") && lines[0].ends_with("careful env=prod"), "{lines:?}");
    assert!(!lines[0].contains("logging_tests.rs"), "{lines:?}");
}

#[test]
fn sampling_keeps_the_first_lines_of_a_call_site_then_every_nth() {
    let a = temp_file("s.log");
    let cfg = serde_json::json!({"output_paths": [a], "sampling": {"enabled": true, "tick": "1h", "initial": 2, "thereafter": 3}});
    let lines = lines_of(cfg, &a, || {
        for i in 1..=10 {
            tracing::info!(i, "tick");
        }
        tracing::info!("another call site");
    });
    let kept: Vec<&str> =
        lines.iter().map(|l| l.split("i=").nth(1).map_or("other", |r| r.split(' ').next().unwrap())).collect();
    assert_eq!(kept, ["1", "2", "5", "8", "other"], "{lines:?}");
}

#[test]
fn the_sampler_starts_again_each_tick() {
    let s = Sampler::new(&LogSampling {
        enabled: true,
        tick: crate::config::types::GoDuration::secs(10),
        initial: 1,
        thereafter: 100,
    });
    let t0 = Instant::now();
    assert!(s.allow(1, t0));
    assert!(!s.allow(1, t0));
    assert!(s.allow(2, t0), "each call site counts apart");
    assert!(s.allow(1, t0 + Duration::from_secs(11)));
}

#[test]
fn an_output_file_that_cannot_be_opened_is_an_error_that_names_it() {
    let err = Outputs::open(&["/nonexistent/dir/otel.log".into()], &[]).err().unwrap();
    assert!(err.contains("\"/nonexistent/dir/otel.log\"") && err.contains("create its directory"), "{err}");
}
