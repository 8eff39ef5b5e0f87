//! Command-line front ends: clap types and one function per subcommand.
//! The binaries in src/bin only parse arguments and call into here.

pub mod collector;
pub mod feature_gates;
mod logging;
pub mod stackctl;
