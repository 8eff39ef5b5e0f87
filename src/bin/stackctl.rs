use clap::Parser;

fn main() {
    let _ = otelstack::cli::stackctl::Cli::parse();
    eprintln!("stackctl: no subcommands yet; run `stackctl --help`");
}
