//! `stackctl`: creates and runs an otelstack Compose stack and reads what it
//! stored. One file per subcommand in this directory; [`Command`] lists them
//! and [`run`] dispatches, so `src/bin/stackctl.rs` only parses and exits.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod failures;
pub mod init;

#[derive(Debug, Parser)]
#[command(
    name = "stackctl",
    version,
    about = "Create and run an otelstack observability stack (collector, Tempo, Prometheus, Grafana, Jaeger, MariaDB)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Recent failed operations stored in MariaDB by the mysql exporter.
    Failures(failures::Args),
    /// Write a ready stack project (compose file, configs, dashboards, .env with generated passwords).
    Init(init::Args),
}

/// Runs one subcommand; errors are printed as sentences that say how to fix
/// them, and the exit code says what kind of failure it was (see README).
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Failures(a) => failures::run(a),
        Command::Init(args) => init::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
