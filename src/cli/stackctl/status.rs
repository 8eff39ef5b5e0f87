//! `stackctl status [--json]`: per service its state, health and published
//! ports (from the engine), plus the collector's own health check and its
//! throughput from its self metrics. Exits 0 only when everything is healthy.

use serde::Serialize;

use super::engine::docker::{self, ServiceState};
use super::engine::http::{self, Throughput};
use super::engine::{block_on, finish, Compose, Failure, Project, ProjectArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub project: String,
    /// Every service of the compose file runs and is healthy, and so is the collector.
    pub healthy: bool,
    pub services: Vec<ServiceState>,
    /// Services in the compose file without a container.
    pub missing: Vec<String>,
    pub collector: Option<CollectorStatus>,
}

#[derive(Debug, Serialize)]
pub struct CollectorStatus {
    pub health_url: String,
    /// `healthy`, `unhealthy` (health check answered non-200) or `unreachable`.
    pub health: String,
    pub metrics_url: String,
    pub throughput: Option<Throughput>,
    pub error: Option<String>,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(status(&args))
}

fn status(args: &Args) -> Result<(), Failure> {
    let project = Project::open(&args.project.project_dir)?;
    let compose = Compose::detect()?;
    let config = compose.config(&project)?;
    let services = block_on(async {
        let d = docker::connect().await?;
        docker::services(&d, &project.name).await
    })?;
    let missing: Vec<String> = config
        .services
        .iter()
        .filter(|c| !services.iter().any(|s| s.service == c.name))
        .map(|c| c.name.clone())
        .collect();
    let collector = services.iter().find(|s| s.service == "collector").map(|c| block_on(collector_status(&project, c)));
    let healthy = missing.is_empty()
        && !services.is_empty()
        && services.iter().all(ServiceState::is_ready)
        && collector.as_ref().is_none_or(|c| c.health == "healthy");
    let report = Report { project: project.name.clone(), healthy, services, missing, collector };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("the report serializes"));
    } else {
        print_table(&report);
    }
    if report.healthy {
        Ok(())
    } else if report.services.is_empty() {
        Err(Failure::failed(format!("{} is not running; start it with `stackctl up`", report.project)))
    } else {
        Err(Failure::failed(format!(
            "{} is not healthy; `stackctl logs SERVICE` shows why, `stackctl up` starts what is missing",
            report.project
        )))
    }
}

async fn collector_status(project: &Project, c: &ServiceState) -> CollectorStatus {
    let health_port = c.host_port(13133).unwrap_or_else(|| project.port("COLLECTOR_HEALTH_PORT", 13133));
    let metrics_port = c.host_port(8888).unwrap_or_else(|| project.port("COLLECTOR_METRICS_PORT", 8888));
    let mut error = None;
    let client = match http::client() {
        Ok(c) => c,
        Err(e) => {
            return CollectorStatus {
                health_url: format!("http://127.0.0.1:{health_port}/"),
                health: "unreachable".to_owned(),
                metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
                throughput: None,
                error: Some(e),
            }
        }
    };
    let health = match http::get(&client, health_port, "/").await {
        Ok((200, _)) => "healthy".to_owned(),
        Ok((code, _)) => {
            error = Some(format!("the health check answered {code}"));
            "unhealthy".to_owned()
        }
        Err(e) => {
            error = Some(format!("the health check did not answer: {e}"));
            "unreachable".to_owned()
        }
    };
    let throughput = match http::get(&client, metrics_port, "/metrics").await {
        Ok((200, body)) => Some(http::throughput(&body)),
        Ok((code, _)) => {
            error.get_or_insert(format!("the self metrics answered {code}"));
            None
        }
        Err(e) => {
            error.get_or_insert(format!("the self metrics did not answer: {e}"));
            None
        }
    };
    CollectorStatus {
        health_url: format!("http://127.0.0.1:{health_port}/"),
        health,
        metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
        throughput,
        error,
    }
}

fn print_table(r: &Report) {
    println!("{:<12} {:<10} {:<10} PORTS", "SERVICE", "STATE", "HEALTH");
    for s in &r.services {
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| format!("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol))
            .collect();
        println!("{:<12} {:<10} {:<10} {}", s.service, s.state, s.health, ports.join(", "));
    }
    for m in &r.missing {
        println!("{m:<12} {:<10} {:<10}", "missing", "-");
    }
    if let Some(c) = &r.collector {
        println!("\ncollector health: {} ({})", c.health, c.health_url);
        if let Some(t) = &c.throughput {
            println!(
                "accepted: {} spans, {} metric points, {} log records; sent: {} spans, {} metric points, {} log records",
                t.receiver_accepted_spans,
                t.receiver_accepted_metric_points,
                t.receiver_accepted_log_records,
                t.exporter_sent_spans,
                t.exporter_sent_metric_points,
                t.exporter_sent_log_records
            );
        }
        if let Some(e) = &c.error {
            println!("collector: {e}");
        }
    }
    println!("\n{}: {}", r.project, if r.healthy { "healthy" } else { "NOT healthy" });
}
