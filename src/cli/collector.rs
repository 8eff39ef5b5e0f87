//! `otelstack-collector`: run a config, `validate` it, list `components`,
//! or probe a running collector's health (`healthcheck`, for containers).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};

use super::feature_gates;
use crate::config::{self, Source};
use crate::registry::registry;
use crate::service::Service;
use crate::telemetry::Telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "otelstack-collector",
    version,
    about = "An OpenTelemetry collector that reads OpenTelemetry Collector YAML"
)]
pub struct Cli {
    /// Config file (or file:PATH, env:VAR); repeat to merge several in order.
    /// Without it the embedded default config runs.
    #[arg(long = "config", global = true, value_name = "FILE")]
    pub config: Vec<String>,
    /// otelcol feature gates (`gate`, `+gate`, `-gate`, comma-separated,
    /// repeatable). otelstack has none: each one named is a warning.
    #[arg(long = "feature-gates", global = true, value_name = "GATES", allow_hyphen_values = true)]
    pub feature_gates: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the collector (the default).
    Run,
    /// Check the config and exit: 0 if valid, 1 with every error listed.
    Validate,
    /// List the supported receivers, processors, exporters and extensions.
    Components,
    /// Exit 0 if a running collector's health endpoint answers 200.
    Healthcheck {
        /// The health_check extension's URL.
        #[arg(long, default_value = "http://127.0.0.1:13133/")]
        url: String,
    },
}

pub fn main(cli: Cli) -> ExitCode {
    let gates = match feature_gates::parse(&cli.feature_gates) {
        Ok(g) => feature_gates::warnings(&g),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Run) {
        Command::Components => components(),
        Command::Validate => validate(&cli.config, &gates),
        Command::Run => run(&cli.config, &gates),
        Command::Healthcheck { url } => healthcheck(&url),
    }
}

fn sources(args: &[String]) -> Vec<Source> {
    if args.is_empty() {
        vec![Source::Default]
    } else {
        args.iter().map(|a| Source::parse(a)).collect()
    }
}

fn load(args: &[String]) -> Result<config::Config, ExitCode> {
    let env = |name: &str| std::env::var(name).ok();
    config::load(&sources(args), &registry(), &env).map_err(|errors| {
        eprintln!("error: the configuration is invalid:");
        for e in &errors.0 {
            eprintln!("  {e}");
        }
        ExitCode::from(1)
    })
}

fn print_warnings(cfg: &config::Config) {
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
}

fn validate(args: &[String], gate_warnings: &[String]) -> ExitCode {
    match load(args) {
        Ok(cfg) => {
            for w in gate_warnings.iter().chain(&cfg.warnings) {
                eprintln!("warning: {w}");
            }
            println!("configuration is valid: {} pipeline(s)", cfg.pipelines.len());
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn components() -> ExitCode {
    println!("{:<10} {:<14} {:<22} NOTE", "KIND", "TYPE", "SIGNALS");
    for (kind, name, signals, note) in registry().describe() {
        let signals = if signals.is_empty() { "-".to_owned() } else { signals };
        println!(
            "{kind:<10} {name:<14} {signals:<22} {}",
            note.map(|_| "deprecated upstream (validate says what to use)").unwrap_or("")
        );
    }
    ExitCode::SUCCESS
}

fn run(args: &[String], gate_warnings: &[String]) -> ExitCode {
    let cfg = match load(args) {
        Ok(cfg) => cfg,
        Err(code) => return code,
    };
    if let Err(errors) = cfg.check_files() {
        eprintln!("error: cannot start: files the configuration names are missing:");
        for e in &errors.0 {
            eprintln!("  {e}");
        }
        return ExitCode::from(1);
    }
    if let Err(e) = super::logging::init(&cfg.telemetry.logs) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    if args.is_empty() {
        tracing::info!(
            "no --config given: running the embedded default config (OTLP on localhost:4317/4318 -> batch -> debug)"
        );
    }
    for w in gate_warnings {
        tracing::warn!("{w}");
    }
    print_warnings(&cfg);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let telemetry = Arc::new(Telemetry::new());
        let mut service = match Service::start(cfg, telemetry).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot start: {e:#}");
                return ExitCode::from(1);
            }
        };
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "otelstack-collector is running");
        wait_for_signal().await;
        tracing::info!("shutting down: stopping receivers, flushing processors, draining exporters");
        service.shutdown(Duration::from_secs(20)).await;
        tracing::info!("shutdown complete");
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Exit 0 if `url` answers 2xx within 3 s, else 1 with the reason on stderr.
/// It is the container's health check (the image has no shell, curl or wget),
/// so it must never panic: a panic exits 101, which Docker also reads as
/// unhealthy but without saying why.
fn healthcheck(url: &str) -> ExitCode {
    let unhealthy = |why: String| {
        eprintln!("unhealthy: {why}");
        ExitCode::from(1)
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return unhealthy(format!("cannot start the async runtime: {e}")),
    };
    rt.block_on(async {
        // A preconfigured rustls config (system roots if any) rather than
        // reqwest's platform verifier, which refuses to build a client at all
        // in an image without CA certificates, even for plain http.
        let tls = match crate::exporters::client::TlsClientConfig::default().rustls_config(&[b"http/1.1"]) {
            Ok(tls) => tls,
            Err(e) => return unhealthy(format!("cannot set up TLS: {e:#}")),
        };
        let client = match reqwest::Client::builder().use_preconfigured_tls(tls).timeout(Duration::from_secs(3)).build()
        {
            Ok(c) => c,
            Err(e) => return unhealthy(format!("cannot build an HTTP client: {e:#}")),
        };
        match client.get(url).send().await {
            Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
            Ok(r) => {
                eprintln!("unhealthy: {url} answered {}", r.status());
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!(
                    "unhealthy: cannot reach {url}: {e}; is the collector running with the health_check extension?"
                );
                ExitCode::from(1)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command};

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn accepts_the_operators_arguments() {
        // What the OpenTelemetry Operator gives the container: the config
        // first, then spec.args sorted as `--key=value`.
        let cli = Cli::try_parse_from([
            "otelstack-collector",
            "--config=/conf/collector.yaml",
            "--feature-gates=-component.UseLocalHostAsDefaultHost,-confmap.unifyEnvVarExpansion",
        ])
        .unwrap();
        assert_eq!(cli.config, ["/conf/collector.yaml"]);
        assert_eq!(cli.feature_gates, ["-component.UseLocalHostAsDefaultHost,-confmap.unifyEnvVarExpansion"]);
        assert!(cli.command.is_none());
    }

    #[test]
    fn feature_gates_take_a_leading_dash_as_a_separate_value_and_repeat() {
        let cli =
            Cli::try_parse_from(["otelstack-collector", "validate", "--feature-gates", "-a.b", "--feature-gates=+c"])
                .unwrap();
        assert_eq!(cli.feature_gates, ["-a.b", "+c"]);
        assert!(matches!(cli.command, Some(Command::Validate)));
    }
}
