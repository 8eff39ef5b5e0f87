use clap::Parser;

fn main() -> std::process::ExitCode {
    otelstack::cli::collector::main(otelstack::cli::collector::Cli::parse())
}
