//! Running compose: `docker compose` (v2) when the CLI plugin is there, else
//! `docker-compose` (1.29), always with the project's directory, file and
//! name so both read the same `.env` and label containers the same way.

use std::process::{Command, Stdio};

use serde_json::Value;

use super::failure::Failure;
use super::project::Project;
use crate::collector_api::Node;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compose {
    program: String,
    prefix: Vec<String>,
    /// `docker compose version --short` / `docker-compose version --short`.
    pub version: String,
}

impl Compose {
    /// Finds compose: v2 first, as the issue asks, then 1.29.
    pub fn detect() -> Result<Compose, Failure> {
        let candidates: [(&str, &[&str]); 2] = [("docker", &["compose"]), ("docker-compose", &[])];
        for (program, prefix) in candidates {
            let out = Command::new(program).args(prefix).args(["version", "--short"]).stdin(Stdio::null()).output();
            if let Ok(out) = out {
                if out.status.success() {
                    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                    return Ok(Compose {
                        program: program.into(),
                        prefix: prefix.iter().map(|s| s.to_string()).collect(),
                        version,
                    });
                }
            }
        }
        Err(Failure::engine(
            "neither `docker compose` (v2) nor `docker-compose` is installed; install the Compose plugin \
             (Debian/Ubuntu: `apt-get install docker-compose-plugin` from Docker's repository, or `apt-get install docker-compose`)",
        ))
    }

    /// `docker compose` or `docker-compose`, for messages.
    pub fn name(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.prefix.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn is_v2(&self) -> bool {
        !self.prefix.is_empty()
    }

    /// A compose command for the project; the process environment (image
    /// overrides such as `COLLECTOR_IMAGE`) passes through.
    pub fn command(&self, project: &Project, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix)
            .arg("--project-directory")
            .arg(&project.dir)
            .arg("-f")
            .arg(&project.compose_file)
            .args(["-p", &project.name])
            .args(args)
            .current_dir(&project.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// The resolved compose file (`config`): what will really run.
    pub fn config(&self, project: &Project) -> Result<ComposeConfig, Failure> {
        let out = self
            .command(project, &["config"])
            .output()
            .map_err(|e| Failure::engine(format!("cannot run {}: {e}", self.name())))?;
        if !out.status.success() {
            return Err(Failure::failed(format!(
                "{} rejects {}: {}; fix the file (or the values in .env) and try again",
                self.name(),
                project.compose_file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        ComposeConfig::parse(&String::from_utf8_lossy(&out.stdout)).map_err(Failure::failed)
    }
}

/// One service of the resolved compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: String,
    pub image: Option<String>,
    pub builds: bool,
    pub healthcheck: bool,
    /// `mem_limit` or `deploy.resources.limits.memory`, in bytes.
    pub mem_limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeConfig {
    pub services: Vec<ServiceSpec>,
}

impl ComposeConfig {
    /// Parses `compose config` output (YAML from 1.29 and v2 alike).
    pub fn parse(text: &str) -> Result<ComposeConfig, String> {
        let doc = Node::parse(text, "compose config")?.to_json();
        let Some(services) = doc.get("services").and_then(Value::as_object) else {
            return Err("the compose file has no services".into());
        };
        let services = services
            .iter()
            .map(|(name, s)| {
                let mem =
                    s.get("mem_limit").or_else(|| s.pointer("/deploy/resources/limits/memory")).and_then(|v| match v {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => parse_bytes(s),
                        _ => None,
                    });
                let healthcheck = s.get("healthcheck").is_some_and(|h| h.get("disable") != Some(&Value::Bool(true)));
                ServiceSpec {
                    name: name.clone(),
                    image: s.get("image").and_then(Value::as_str).map(str::to_owned),
                    builds: s.get("build").is_some(),
                    healthcheck,
                    mem_limit: mem,
                }
            })
            .collect();
        Ok(ComposeConfig { services })
    }
}

/// Compose byte values: `512m`, `1g`, `1.5GB`, `268435456`.
pub fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<f64>().ok().map(|n| (n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // What docker-compose 1.29 prints for `config` (images resolved from .env).
    const CONFIG_129: &str = r#"services:
  collector:
    build:
      context: /src
    healthcheck:
      test:
      - CMD
      - /usr/local/bin/otelstack-collector
      - healthcheck
    image: otelstack-test/collector:local
    mem_limit: 512m
    ports:
    - published: 4317
      target: 4317
  mariadb:
    deploy:
      resources:
        limits:
          memory: 1G
    healthcheck:
      test: [CMD, healthcheck.sh, --connect, --innodb_initialized]
    image: otelstack-test/mariadb:local
  prometheus:
    healthcheck:
      disable: true
    image: otelstack-test/prometheus:local
version: '3.8'
"#;

    #[test]
    fn parses_services_images_health_and_memory() {
        let c = ComposeConfig::parse(CONFIG_129).unwrap();
        let names: Vec<_> = c.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["collector", "mariadb", "prometheus"]);
        let col = &c.services[0];
        assert_eq!(col.image.as_deref(), Some("otelstack-test/collector:local"));
        assert!(col.builds && col.healthcheck);
        assert_eq!(col.mem_limit, Some(512 << 20));
        assert_eq!(c.services[1].mem_limit, Some(1 << 30));
        assert!(!c.services[1].builds && c.services[1].healthcheck);
        assert!(!c.services[2].healthcheck);
        assert_eq!(c.services[2].mem_limit, None);
    }

    #[test]
    fn byte_values() {
        assert_eq!(parse_bytes("256M"), Some(256 << 20));
        assert_eq!(parse_bytes("1.5gb"), Some(3 << 29));
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("lots"), None);
    }

    #[test]
    fn a_config_without_services_is_an_error() {
        assert!(ComposeConfig::parse("version: '3'\n").is_err());
    }
}
