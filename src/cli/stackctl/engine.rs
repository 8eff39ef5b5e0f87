//! What the running subcommands (`up`, `down`, `logs`, `status`, `doctor`,
//! `env`, `image build`) share: finding the project, running compose, talking
//! to the Docker engine through bollard, and failures that carry an exit code
//! and a sentence saying how to fix them.

pub mod compose;
pub mod docker;
mod failure;
pub mod http;
pub mod ports;
pub mod project;

use std::process::ExitCode;

pub use compose::Compose;
pub use failure::{Failure, EXIT_ENGINE, EXIT_FAILURE, EXIT_NOT_PROJECT, EXIT_USAGE};
pub use project::{Project, ProjectArgs};

/// Prints a failure as `error: ...` and turns the result into the exit code.
pub fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Runs an async body on a small runtime of its own: the CLI does little
/// concurrent work, so one thread is enough.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime can be built")
        .block_on(f)
}
