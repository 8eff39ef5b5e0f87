//! The workshop's compose project: the `--workshop-dir`/`--project-dir`
//! arguments every subcommand takes, opening the directory, and where the
//! web front listens.

use std::path::{Path, PathBuf};

use super::super::engine::{Failure, Project};
use crate::stack::dotenv;

/// `--workshop-dir`, shared by the subcommands.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkshopArgs {
    /// The workshop's compose project (docker-compose.yml, .env, control/).
    #[arg(long, value_name = "DIR", default_value = "examples/workshop", env = "STACKCTL_WORKSHOP_DIR")]
    pub workshop_dir: PathBuf,
    /// The stack the workshop reports to (its docker-compose.yml and .env).
    #[arg(long, value_name = "DIR", default_value = "compose", env = "STACKCTL_PROJECT_DIR")]
    pub project_dir: PathBuf,
}

/// The workshop directory as a compose project of its own.
pub fn open(dir: &Path) -> Result<Project, Failure> {
    let compose_file = dir.join("docker-compose.yml");
    if !compose_file.is_file() {
        return Err(Failure::not_project(format!(
            "{} is not a workshop directory (no docker-compose.yml); run this from the repository root, pass \
             --workshop-dir, or create one with `stackctl init --with-workshop DIR`",
            dir.display()
        )));
    }
    let dir = dir.canonicalize().map_err(|e| Failure::not_project(format!("cannot open {}: {e}", dir.display())))?;
    let dotenv = dotenv::read(&dir.join(".env")).map_err(Failure::usage)?.unwrap_or_default();
    let name = std::env::var("WORKSHOP_PROJECT_NAME")
        .ok()
        .or_else(|| dotenv.get("COMPOSE_PROJECT_NAME").cloned())
        .unwrap_or_else(|| "otelstack-workshop".to_owned());
    Ok(Project { compose_file: dir.join("docker-compose.yml"), dir, name, dotenv })
}

/// Where the web front listens on this host.
pub fn web_url(workshop: &Project) -> String {
    format!("http://127.0.0.1:{}", workshop.port("WORKSHOP_WEB_PORT", 8070))
}
