//! `stackctl down [--volumes]`: stops and removes the stack's containers and
//! networks (and with `--volumes` its named volumes, i.e. all stored data).

use super::engine::docker;
use super::engine::{block_on, finish, Compose, Failure, Project, ProjectArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Also remove the named volumes: stored traces, metrics and failures are lost.
    #[arg(long)]
    pub volumes: bool,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(down(&args))
}

fn down(args: &Args) -> Result<(), Failure> {
    let project = Project::open(&args.project.project_dir)?;
    let compose = Compose::detect()?;
    let mut a = vec!["down", "--remove-orphans"];
    if args.volumes {
        a.push("--volumes");
    }
    let status = compose
        .command(&project, &a)
        .status()
        .map_err(|e| Failure::engine(format!("cannot run {}: {e}", compose.name())))?;
    if !status.success() {
        return Err(Failure::failed(format!(
            "{} down failed (see above); check that the engine runs (`stackctl doctor`)",
            compose.name()
        )));
    }
    let left = block_on(async {
        let d = docker::connect().await?;
        docker::services(&d, &project.name).await
    })?;
    if !left.is_empty() {
        let names: Vec<_> = left.iter().map(|s| s.container.as_str()).collect();
        return Err(Failure::failed(format!(
            "containers of {} are still there after down: {}; remove them with `docker rm -f {}`",
            project.name,
            names.join(", "),
            names.join(" ")
        )));
    }
    println!("{} is down{}", project.name, if args.volumes { " and its volumes are removed" } else { "" });
    Ok(())
}
