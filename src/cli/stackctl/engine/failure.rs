//! A failed stackctl command: what went wrong, how to fix it, and the exit
//! code, shared by every engine module and subcommand.

use std::fmt;

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
