//! `stackctl workshop scenario NAME [--for DURATION]`: switches the scenario
//! every app plays by rewriting the shared control file; the apps pick it up
//! on their next request, and it reverts to baseline by itself after --for.

use std::time::Duration;

use super::super::engine::{finish, Failure};
use super::control;
use super::project::{self, WorkshopArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// baseline, error-burst, slow-db, bad-deploy, downstream-down, pipeline-stuck or traffic-spike.
    pub name: String,
    /// How long it lasts before reverting to baseline (e.g. 90s, 5m); `0s` keeps it until switched.
    #[arg(long = "for", value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub lasts: Duration,
    #[command(flatten)]
    pub workshop: WorkshopArgs,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(switch(&args))
}

fn switch(args: &Args) -> Result<(), Failure> {
    control::validate(&args.name).map_err(Failure::usage)?;
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let path = control::file(&workshop.dir);
    let lasts = (!args.lasts.is_zero()).then_some(args.lasts);
    let doc = control::write(&path, &args.name, lasts).map_err(|e| {
        Failure::failed(format!("cannot write {}: {e}; check that the directory is writable", path.display()))
    })?;
    let what = control::SCENARIOS.iter().find(|(n, _)| *n == args.name).map_or("", |(_, d)| d);
    match doc.until {
        Some(_) => println!(
            "scenario {} ({what}) is active for {}; it reverts to baseline by itself",
            args.name,
            humantime::format_duration(args.lasts)
        ),
        None => println!("scenario {} ({what}) is active", args.name),
    }
    Ok(())
}
