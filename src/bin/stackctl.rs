use clap::Parser;

fn main() -> std::process::ExitCode {
    otelstack::cli::stackctl::run(otelstack::cli::stackctl::Cli::parse())
}
