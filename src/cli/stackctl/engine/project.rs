//! A stackctl project directory: `docker-compose.yml`, its `.env`, and the
//! marker `stackctl.toml` written by `stackctl init` (a clone's `compose/`
//! directory counts too: its `.env` pins `COLLECTOR_IMAGE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::failure::Failure;
use crate::stack::dotenv;

/// The marker file `stackctl init` writes into a project.
pub const MARKER: &str = "stackctl.toml";
/// Compose file names, in the order compose itself looks for them.
pub const COMPOSE_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// `--project-dir`, shared by every subcommand that works on a project.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// The stackctl project (the directory with docker-compose.yml and .env).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub compose_file: PathBuf,
    /// Compose's project name: containers carry it in `com.docker.compose.project`.
    pub name: String,
    /// The project's `.env` (compose reads it too; the process environment wins).
    pub dotenv: BTreeMap<String, String>,
}

impl Project {
    pub fn open(dir: &Path) -> Result<Project, Failure> {
        let not_project = || {
            Failure::not_project(format!(
                "{} is not a stackctl project (no docker-compose.yml / marker file); run `stackctl init {}` first",
                dir.display(),
                dir.display()
            ))
        };
        let compose_file = COMPOSE_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()).ok_or_else(not_project)?;
        let dotenv = dotenv::read(&dir.join(".env")).map_err(Failure::usage)?.unwrap_or_default();
        if !dir.join(MARKER).is_file() && !dotenv.contains_key("COLLECTOR_IMAGE") {
            return Err(not_project());
        }
        let dir =
            dir.canonicalize().map_err(|e| Failure::not_project(format!("cannot open {}: {e}", dir.display())))?;
        let name = std::env::var("COMPOSE_PROJECT_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .or_else(|| dotenv.get("COMPOSE_PROJECT_NAME").cloned())
            .map(|n| normalize_name(&n))
            .unwrap_or_else(|| normalize_name(&dir.file_name().unwrap_or_default().to_string_lossy()));
        Ok(Project { dir, compose_file, name, dotenv })
    }

    /// A setting as compose sees it: the process environment, then `.env`.
    pub fn setting(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().or_else(|| self.dotenv.get(key).cloned())
    }

    /// Every variable of `.env` as compose substitutes it into the compose
    /// file: a variable set in the process environment wins.
    pub fn settings(&self) -> BTreeMap<String, String> {
        self.dotenv.keys().filter_map(|k| Some((k.clone(), self.setting(k)?))).collect()
    }

    /// A host port from the settings, or its documented default.
    pub fn port(&self, key: &str, default: u16) -> u16 {
        self.setting(key).and_then(|v| v.trim().parse().ok()).unwrap_or(default)
    }
}

/// The host ports a stack publishes: `.env` key, default, what it is.
pub const PORTS: [(&str, u16, &str); 10] = [
    ("OTLP_GRPC_PORT", 4317, "OTLP/gRPC"),
    ("OTLP_HTTP_PORT", 4318, "OTLP/HTTP"),
    ("GRAFANA_PORT", 3000, "Grafana"),
    ("PROMETHEUS_PORT", 9090, "Prometheus"),
    ("JAEGER_UI_PORT", 16686, "Jaeger UI"),
    ("TEMPO_PORT", 3200, "Tempo"),
    ("MARIADB_PORT", 3306, "MariaDB"),
    ("COLLECTOR_METRICS_PORT", 8888, "collector self metrics"),
    ("COLLECTOR_PROM_PORT", 8889, "collector Prometheus exporter"),
    ("COLLECTOR_HEALTH_PORT", 13133, "collector health check"),
];

/// Compose's project name rule: lower case, only `a-z0-9_-`.
pub fn normalize_name(name: &str) -> String {
    name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_follow_compose() {
        assert_eq!(normalize_name("My Stack.2"), "mystack2");
        assert_eq!(normalize_name("otel_stack-1"), "otel_stack-1");
    }

    #[test]
    fn a_directory_without_compose_file_is_not_a_project() {
        let dir = std::env::temp_dir().join(format!("stackctl-np-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = Project::open(&dir).unwrap_err();
        assert_eq!(err.code, super::super::EXIT_NOT_PROJECT);
        assert!(err
            .message
            .contains("is not a stackctl project (no docker-compose.yml / marker file); run `stackctl init"));
        // a compose file alone is not enough: it needs the marker (or a stack .env)
        std::fs::write(dir.join("docker-compose.yml"), "services: {}\n").unwrap();
        assert!(Project::open(&dir).is_err());
        std::fs::write(dir.join(MARKER), "").unwrap();
        std::fs::write(dir.join(".env"), "COMPOSE_PROJECT_NAME=Demo\nOTLP_GRPC_PORT=14317\n").unwrap();
        let p = Project::open(&dir).unwrap();
        assert_eq!(p.name, "demo");
        assert_eq!(p.dotenv["OTLP_GRPC_PORT"], "14317");
        // a .env compose would refuse is a usage error naming the line
        std::fs::write(dir.join(".env"), "COMPOSE_PROJECT_NAME=Demo\nOTLP_GRPC_PORT='14317\n").unwrap();
        let err = Project::open(&dir).unwrap_err();
        assert_eq!(err.code, super::super::EXIT_USAGE);
        assert!(err.message.contains(".env, line 2: the value of OTLP_GRPC_PORT opens a ' quote"), "{}", err.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
