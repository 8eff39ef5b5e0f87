//! `stackctl logs [SERVICE] [-f]`: the stack's logs through compose (every
//! service interleaved with its name, or one service).

use super::engine::{finish, Compose, Failure, Project, ProjectArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Only this service (collector, tempo, prometheus, grafana, jaeger, mariadb).
    pub service: Option<String>,
    /// Keep following new lines until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Lines from the end of each service's log to start with.
    #[arg(long, default_value = "200")]
    pub tail: String,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(logs(&args))
}

fn logs(args: &Args) -> Result<(), Failure> {
    let project = Project::open(&args.project.project_dir)?;
    let compose = Compose::detect()?;
    if let Some(s) = &args.service {
        let config = compose.config(&project)?;
        if !config.services.iter().any(|c| &c.name == s) {
            let names: Vec<_> = config.services.iter().map(|c| c.name.as_str()).collect();
            return Err(Failure::usage(format!(
                "{s} is not a service of this stack; pick one of: {}",
                names.join(", ")
            )));
        }
    }
    let mut a = vec!["logs", "--no-color", "--tail", args.tail.as_str()];
    if args.follow {
        a.push("--follow");
    }
    if let Some(s) = &args.service {
        a.push(s);
    }
    let status = compose
        .command(&project, &a)
        .status()
        .map_err(|e| Failure::engine(format!("cannot run {}: {e}", compose.name())))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::failed(format!("{} logs failed (see above)", compose.name())))
    }
}
