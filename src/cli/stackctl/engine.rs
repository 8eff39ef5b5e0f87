//! What the running subcommands (`up`, `down`, `logs`, `status`, `doctor`,
//! `env`, `image build`) share: finding the project, running compose, talking
//! to the Docker engine through bollard, and failures that carry an exit code
//! and a sentence saying how to fix them.

pub mod compose;
pub mod docker;
pub mod http;
pub mod ports;
pub mod project;

use std::fmt;
use std::process::ExitCode;

pub use compose::Compose;
pub use project::{Project, ProjectArgs};

/// Exit codes, documented in README ("stackctl exit codes").
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_ENGINE: u8 = 3;
pub const EXIT_NOT_PROJECT: u8 = 4;

/// A failed command: what went wrong and how to fix it, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_FAILURE, message: message.into() }
    }
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_USAGE, message: message.into() }
    }
    pub fn engine(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_ENGINE, message: message.into() }
    }
    pub fn not_project(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_NOT_PROJECT, message: message.into() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

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
