//! `stackctl workshop status [--json]`: the active scenario and the time it
//! has left, and each demo app's container state and health.

use serde::Serialize;

use super::super::engine::docker::{self, ServiceState};
use super::super::engine::{block_on, finish, Failure};
use super::control;
use super::project::{self, WorkshopArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub workshop: WorkshopArgs,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    project: String,
    scenario: control::Active,
    apps: Vec<ServiceState>,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(status(&args))
}

fn status(args: &Args) -> Result<(), Failure> {
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let scenario = control::active(&control::file(&workshop.dir));
    let apps = block_on(async {
        let d = docker::connect().await?;
        docker::services(&d, &workshop.name).await
    })?;
    let report = Report { project: workshop.name.clone(), scenario, apps };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("the report serializes"));
    } else {
        match report.scenario.remaining_seconds {
            Some(s) => println!("scenario: {} ({s}s left, then baseline)", report.scenario.name),
            None => println!("scenario: {}", report.scenario.name),
        }
        for a in &report.apps {
            println!("  {:<16} {:<10} {}", a.service, a.state, a.health);
        }
    }
    if report.apps.is_empty() {
        return Err(Failure::failed(format!(
            "the workshop apps ({}) are not running; start them with `stackctl workshop up`",
            report.project
        )));
    }
    Ok(())
}
