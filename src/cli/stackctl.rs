//! `stackctl`: creates and runs an otelstack Compose stack. The subcommands
//! arrive with the stack itself; for now the binary only describes itself.

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "stackctl",
    version,
    about = "Create and run an otelstack observability stack (collector, Tempo, Prometheus, Grafana, Jaeger, MariaDB)"
)]
pub struct Cli {}
