//! `stackctl workshop down`: stops the demo apps and removes their
//! containers and network (the stack and its data stay), and resets the
//! scenario to baseline.

use super::super::engine::{finish, Compose, Failure};
use super::control;
use super::project::{self, WorkshopArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub workshop: WorkshopArgs,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(down(&args))
}

fn down(args: &Args) -> Result<(), Failure> {
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let compose = Compose::detect()?;
    let mut cmd = compose.command(&workshop, &["down", "--remove-orphans"]);
    // compose checks that the external network variable resolves even on `down`
    cmd.env("STACK_NETWORK", workshop.setting("STACK_NETWORK").unwrap_or_else(|| "otelstack_default".into()));
    let out = cmd.output().map_err(|e| Failure::engine(format!("cannot run {}: {e}", compose.name())))?;
    if !out.status.success() {
        return Err(Failure::failed(format!(
            "{} down failed for {}: {}; `docker ps` shows what is left",
            compose.name(),
            workshop.name,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let _ = control::write(&control::file(&workshop.dir), "baseline", None);
    println!("stopped the workshop apps ({}); the stack keeps running (`stackctl down` stops it)", workshop.name);
    Ok(())
}
