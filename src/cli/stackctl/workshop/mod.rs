//! `stackctl workshop ...`: the demo workshop next to a stack. The apps live
//! in their own compose project (`examples/workshop`, or the directory
//! `stackctl init --with-workshop` wrote); these subcommands start and stop
//! them, switch failure scenarios, generate traffic and check each step of
//! the guide (docs/workshop/) against the running stack. One file per
//! subcommand; [`control`] is the scenario file they share.

use clap::Subcommand;

pub mod control;
mod down;
pub mod load;
mod project;
mod scenario;
mod status;
mod up;
pub mod verify;

pub use project::{open, web_url, WorkshopArgs};

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
