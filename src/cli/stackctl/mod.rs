//! `stackctl`: creates and runs an otelstack Compose stack and reads what it
//! stored. One file per subcommand in this directory; [`Command`] lists them
//! and [`run`] dispatches, so `src/bin/stackctl.rs` only parses and exits.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod doctor;
mod dotenv;
mod down;
pub mod engine;
mod env;
pub mod failures;
mod image;
pub mod init;
mod logs;
mod status;
mod up;
pub mod workshop;

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
    /// Write a ready stack project (compose file, configs, dashboards, .env with generated passwords).
    Init(init::Args),
    /// Start the stack and wait until every service is healthy.
    Up(up::Args),
    /// Stop the stack and remove its containers and networks.
    Down(down::Args),
    /// Show the logs of the stack or one service.
    Logs(logs::Args),
    /// Each service's state, health and ports, and the collector's throughput.
    Status(status::Args),
    /// Check the engine, compose, ports, memory, host.docker.internal and images.
    Doctor(doctor::Args),
    /// Print the OTEL_* settings for an app, per language and network context.
    Env(env::Args),
    /// Build the collector image from the installed binary.
    Image(image::Args),
    /// Recent failed operations stored in MariaDB by the mysql exporter.
    Failures(failures::Args),
    /// The demo workshop: apps, failure scenarios, traffic and checks (see docs/workshop/).
    Workshop(workshop::Args),
    /// The project's .env as Compose reads it, as JSON (a diagnostic).
    #[command(hide = true)]
    Dotenv(dotenv::Args),
}

/// Runs one subcommand; errors are printed as sentences that say how to fix
/// them, and the exit code says what kind of failure it was (see README).
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init(args) => init::run(args),
        Command::Up(a) => up::run(a),
        Command::Down(a) => down::run(a),
        Command::Logs(a) => logs::run(a),
        Command::Status(a) => status::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Env(a) => env::run(a),
        Command::Image(a) => image::run(a),
        Command::Failures(a) => failures::run(a),
        Command::Workshop(a) => workshop::run(a),
        Command::Dotenv(a) => dotenv::run(a),
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
