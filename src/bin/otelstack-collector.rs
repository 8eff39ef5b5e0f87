use clap::Parser;

#[global_allocator]
static ALLOC: otelstack::alloc::CountingAlloc = otelstack::alloc::CountingAlloc;

fn main() -> std::process::ExitCode {
    otelstack::alloc::tune_system_allocator();
    otelstack::cli::collector::main(otelstack::cli::collector::Cli::parse())
}
