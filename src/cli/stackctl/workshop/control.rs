//! The workshop's scenarios and the shared control file that switches them.
//! `stackctl workshop scenario` writes `control/scenario.json` in the
//! workshop directory (`{"name", "since", "until"}`, unix seconds); every
//! app mounts the directory and reads the file on each request. The expiry
//! travels in the file, so a scenario reverts to baseline by itself, with no
//! process left running to undo it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Every scenario: name and what it does, as `scenario --help` and the guide say.
pub const SCENARIOS: [(&str, &str); 7] = [
    ("baseline", "everything healthy"),
    ("error-burst", "30% of payments fail with a 500 and an exception event"),
    ("slow-db", "the orders API's queries are slow inside MariaDB"),
    ("bad-deploy", "only the payments instance with service.version=2.0.0 fails"),
    ("downstream-down", "the orders API cannot reach payments (connection refused)"),
    ("pipeline-stuck", "the pipeline's transform task fails every attempt and is retried"),
    ("traffic-spike", "every page makes extra calls and `workshop load` triples its rate"),
];

/// What `workshop load` multiplies its rate by during `traffic-spike`.
pub const SPIKE_FACTOR: f64 = 3.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFile {
    pub name: String,
    /// unix seconds
    pub since: f64,
    /// unix seconds; none: until switched again
    pub until: Option<f64>,
}

/// The scenario in force now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Active {
    pub name: String,
    /// seconds left before it reverts to baseline by itself
    pub remaining_seconds: Option<u64>,
}

pub fn file(workshop_dir: &Path) -> PathBuf {
    workshop_dir.join("control").join("scenario.json")
}

pub fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Checks a name against [`SCENARIOS`]; the error lists the valid ones.
pub fn validate(name: &str) -> Result<(), String> {
    if SCENARIOS.iter().any(|(n, _)| *n == name) {
        return Ok(());
    }
    let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
    Err(format!("there is no scenario {name:?}; choose one of {}", names.join(", ")))
}

/// Writes the file atomically (temp file + rename in the same directory, so
/// an app never reads half of it; the apps mount the directory, not the file).
pub fn write(path: &Path, name: &str, lasts: Option<Duration>) -> std::io::Result<ScenarioFile> {
    let since = now();
    let doc = ScenarioFile {
        name: name.to_owned(),
        since,
        until: lasts.filter(|_| name != "baseline").map(|d| since + d.as_secs_f64()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&doc).expect("serializes"))?;
    std::fs::rename(&tmp, path)?;
    Ok(doc)
}

/// The active scenario as the apps see it at `at` (unix seconds): a missing
/// or unreadable file, or one whose `until` has passed, is baseline.
pub fn active_at(path: &Path, at: f64) -> Active {
    let baseline = Active { name: "baseline".to_owned(), remaining_seconds: None };
    let Ok(text) = std::fs::read_to_string(path) else { return baseline };
    let Ok(doc) = serde_json::from_str::<ScenarioFile>(&text) else { return baseline };
    match doc.until {
        Some(until) if at >= until => baseline,
        // seconds left rounded up; the epsilon keeps float noise (119.000001) from adding one
        Some(until) => Active { name: doc.name, remaining_seconds: Some((until - at - 1e-6).ceil().max(0.0) as u64) },
        None => Active { name: doc.name, remaining_seconds: None },
    }
}

pub fn active(path: &Path) -> Active {
    active_at(path, now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_reverts_to_baseline_when_its_time_is_up() {
        let dir = std::env::temp_dir().join(format!("ws-control-{}", std::process::id()));
        let path = file(&dir);
        assert_eq!(active(&path).name, "baseline", "no file yet");
        let doc = write(&path, "slow-db", Some(Duration::from_secs(120))).unwrap();
        let now = doc.since;
        assert_eq!(active_at(&path, now + 1.0), Active { name: "slow-db".into(), remaining_seconds: Some(119) });
        assert_eq!(active_at(&path, now + 120.0).name, "baseline");
        write(&path, "bad-deploy", None).unwrap();
        assert_eq!(active_at(&path, now + 1e6), Active { name: "bad-deploy".into(), remaining_seconds: None });
        // baseline never carries an expiry
        assert_eq!(write(&path, "baseline", Some(Duration::from_secs(5))).unwrap().until, None);
        std::fs::write(&path, "{half").unwrap();
        assert_eq!(active(&path).name, "baseline", "an unreadable file is baseline");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_names_are_refused_with_the_list() {
        assert!(validate("error-burst").is_ok());
        let e = validate("errors").unwrap_err();
        assert!(e.contains("error-burst") && e.contains("traffic-spike"), "{e}");
    }
}
