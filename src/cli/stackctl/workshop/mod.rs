//! `stackctl workshop ...`: the demo workshop next to a stack. The apps live
//! in their own compose project (`examples/workshop`, or the directory
//! `stackctl init --with-workshop` wrote); these subcommands start and stop
//! them, switch failure scenarios, generate traffic and check each step of
//! the guide (docs/workshop/) against the running stack. One file per
//! subcommand; [`control`] is the scenario file they share.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::engine::{Failure, Project};
use crate::stack::dotenv;

pub mod control;
mod down;
pub mod load;
mod scenario;
mod status;
mod up;
pub mod verify;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the demo images, prepare MariaDB, start the apps and wait until they are healthy.
    Up(up::Args),
    /// Stop the demo apps and remove their containers.
    Down(down::Args),
    /// Switch the failure scenario the apps play (reverts by itself after --for).
    Scenario(scenario::Args),
    /// The active scenario, the time left, and the apps' state.
    Status(status::Args),
    /// Send user journeys (browse, cart, checkout) to the web front for a bounded time.
    Load(load::Args),
    /// Check one step of the guide (or all) against the running stack.
    Verify(verify::Args),
}

pub fn run(args: Args) -> std::process::ExitCode {
    match args.command {
        Command::Up(a) => up::run(a),
        Command::Down(a) => down::run(a),
        Command::Scenario(a) => scenario::run(a),
        Command::Status(a) => status::run(a),
        Command::Load(a) => load::run(a),
        Command::Verify(a) => verify::run(a),
    }
}

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
