//! `stackctl dotenv` (hidden): the project's `.env` variables as stackctl
//! reads them, the process environment first as Compose does, printed as one
//! JSON object. A diagnostic, and what the integration test compares with
//! `docker-compose config` to keep the reader ([`crate::stack::dotenv`])
//! honest; the other subcommands read the same values.

use super::engine::{finish, Failure, Project, ProjectArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(print(&args))
}

fn print(args: &Args) -> Result<(), Failure> {
    let project = Project::open(&args.project.project_dir)?;
    let json = serde_json::to_string_pretty(&project.settings())
        .map_err(|e| Failure::failed(format!("cannot print the settings as JSON: {e}")))?;
    println!("{json}");
    Ok(())
}
