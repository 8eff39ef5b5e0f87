//! `stackctl up`: starts the stack with compose, waits until every service is
//! running and healthy (watching the engine through bollard, one progress
//! line per change), then prints where to go next. On failure it shows the
//! failing service's last log lines.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::engine::docker::{self, ServiceState};
use super::engine::{block_on, finish, ports, Compose, Failure, Project, ProjectArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Never pull: fail if an image is not present locally (images that
    /// compose can build are still built).
    #[arg(long)]
    pub no_pull: bool,
    /// How long to wait for every service to become healthy.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Log lines shown for a service that failed.
    #[arg(long, default_value_t = 40)]
    pub log_lines: usize,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(up(&args))
}

fn up(args: &Args) -> Result<(), Failure> {
    let project = Project::open(&args.project.project_dir)?;
    let compose = Compose::detect()?;
    block_on(async {
        let docker = docker::connect().await?;
        let config = compose.config(&project)?;
        if args.no_pull {
            for s in &config.services {
                if let Some(image) = &s.image {
                    if !s.builds && !docker::image_present(&docker, image).await {
                        return Err(Failure::failed(format!(
                            "image {image} of service {} is not present locally and --no-pull forbids pulling it; \
                             build or load it first (`stackctl image build` for the collector), or set {}_IMAGE in .env \
                             to an image you have",
                            s.name,
                            s.name.to_uppercase()
                        )));
                    }
                }
            }
        }
        println!(
            "starting {} ({} services) with {} {}",
            project.name,
            config.services.len(),
            compose.name(),
            compose.version
        );
        let mut cmd = compose.command(&project, &["up", "-d", "--remove-orphans"]);
        if compose.is_v2() && args.no_pull {
            cmd.args(["--pull", "never"]);
        }
        let out = cmd.output().map_err(|e| Failure::engine(format!("cannot run {}: {e}", compose.name())))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Failure::failed(explain_up_error(&project, &compose.name(), &stderr)));
        }
        let wanted: Vec<String> = config.services.iter().map(|s| s.name.clone()).collect();
        let states = wait_healthy(&docker, &project, &wanted, args).await?;
        print_next_steps(&project, &states);
        Ok(())
    })
}

/// Polls the engine until every wanted service is ready, printing each change.
async fn wait_healthy(
    docker: &bollard::Docker,
    project: &Project,
    wanted: &[String],
    args: &Args,
) -> Result<Vec<ServiceState>, Failure> {
    let start = Instant::now();
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let states = docker::services(docker, &project.name).await?;
        for name in wanted {
            let line = match states.iter().find(|s| &s.service == name) {
                Some(s) if s.health == "none" => s.state.clone(),
                Some(s) => format!("{} ({})", s.state, s.health),
                None => "not created".into(),
            };
            if shown.get(name) != Some(&line) {
                println!("  {name:<12} {line:<24} {:>4}s", start.elapsed().as_secs());
                shown.insert(name.clone(), line);
            }
        }
        if let Some(failed) = states.iter().find(|s| wanted.contains(&s.service) && s.has_failed()) {
            return Err(service_failed(docker, failed, args.log_lines, "failed").await);
        }
        let ready = wanted.iter().all(|w| states.iter().any(|s| &s.service == w && s.is_ready()));
        if ready {
            println!("all {} services are up and healthy after {}s", wanted.len(), start.elapsed().as_secs());
            return Ok(states);
        }
        if start.elapsed() > args.timeout {
            let stuck = states.iter().find(|s| wanted.contains(&s.service) && !s.is_ready());
            return Err(match stuck {
                Some(s) => service_failed(docker, s, args.log_lines, "did not become healthy in time").await,
                None => Failure::failed(format!(
                    "services were not created within {}s; see `stackctl logs`",
                    args.timeout.as_secs()
                )),
            });
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
}

async fn service_failed(docker: &bollard::Docker, s: &ServiceState, lines: usize, what: &str) -> Failure {
    let logs = docker::log_tail(docker, &s.container, lines).await;
    eprintln!("--- last {lines} log lines of {} ({}) ---", s.service, s.container);
    eprint!("{logs}");
    eprintln!("---");
    if s.health == "unhealthy" {
        if let Some(h) = docker::last_health_output(docker, &s.container).await {
            eprintln!("last health check of {}: {h}", s.service);
        }
    }
    Failure::failed(format!(
        "service {} {what} (state {}, health {}); its last log lines are above; fix the cause and run `stackctl up` \
         again (`stackctl logs {}` shows more)",
        s.service, s.state, s.health, s.service
    ))
}

/// Turns compose's error into a sentence with the fix; a taken port names
/// the process holding it and the `.env` key that moves it.
pub fn explain_up_error(project: &Project, compose: &str, stderr: &str) -> String {
    let lower = stderr.to_lowercase();
    if lower.contains("port is already allocated") || lower.contains("address already in use") {
        let port = ports::port_in_message(stderr);
        let key = port.and_then(|p| ports::key_for(project, p));
        let holder = port.and_then(ports::holder).map(|h| format!(" (held by {h})")).unwrap_or_default();
        return match (port, key) {
            (Some(p), Some(k)) => format!(
                "port {p} is already taken{holder}; stop what holds it, or set {k} to a free port in {}/.env and run \
                 `stackctl up` again",
                project.dir.display()
            ),
            _ => format!(
                "a port the stack publishes is already taken{holder}; `stackctl doctor` shows which; free it or change \
                 the port in {}/.env ({})",
                project.dir.display(),
                stderr.trim()
            ),
        };
    }
    if lower.contains("pull access denied") || lower.contains("manifest unknown") || lower.contains("no such image") {
        return format!(
            "{compose} could not get an image: {}; build it locally (`stackctl image build` for the collector) or \
             check the *_IMAGE values in .env",
            stderr.trim()
        );
    }
    format!("{compose} up failed: {}", stderr.trim())
}

fn print_next_steps(project: &Project, states: &[ServiceState]) {
    let port = |service: &str, container_port: u16| {
        states.iter().find(|s| s.service == service).and_then(|s| s.host_port(container_port))
    };
    println!();
    for (service, label, cport, path) in [
        ("grafana", "Grafana", 3000, "/"),
        ("jaeger", "Jaeger", 16686, "/"),
        ("prometheus", "Prometheus", 9090, "/"),
        ("tempo", "Tempo", 3200, "/ready"),
    ] {
        if let Some(p) = port(service, cport) {
            println!("  {label:<12} http://localhost:{p}{path}");
        }
    }
    if let Some(p) = port("mariadb", 3306) {
        println!(
            "  {:<12} mysql://localhost:{p}/{}",
            "MariaDB",
            project.setting("MARIADB_DATABASE").unwrap_or("otelstack".into())
        );
    }
    let grpc = port("collector", 4317).unwrap_or_else(|| project.port("OTLP_GRPC_PORT", 4317));
    let http = port("collector", 4318).unwrap_or_else(|| project.port("OTLP_HTTP_PORT", 4318));
    println!("\nSend OTLP to:");
    println!("  from this host            grpc http://localhost:{grpc}   http http://localhost:{http}");
    println!("  from this compose network grpc http://collector:4317    http http://collector:4318");
    println!(
        "  from another compose project grpc http://host.docker.internal:{grpc} \
         (add extra_hosts: [\"host.docker.internal:host-gateway\"])"
    );
    println!("`stackctl env --lang python` prints the OTEL_* settings; `stackctl status` shows health and throughput.");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        Project {
            dir: "/srv/demo".into(),
            compose_file: "/srv/demo/docker-compose.yml".into(),
            name: "demo".into(),
            dotenv: [("OTLP_GRPC_PORT".to_string(), "24317".to_string())].into_iter().collect(),
        }
    }

    #[test]
    fn a_taken_port_names_the_env_key_that_moves_it() {
        let stderr = "ERROR: for collector  Cannot start service collector: driver failed programming external \
                      connectivity on endpoint demo_collector_1: Bind for 0.0.0.0:24317 failed: port is already allocated";
        let m = explain_up_error(&project(), "docker-compose", stderr);
        assert!(m.starts_with("port 24317 is already taken"), "{m}");
        assert!(m.contains("set OTLP_GRPC_PORT to a free port in /srv/demo/.env"), "{m}");
    }

    #[test]
    fn other_compose_errors_keep_their_text() {
        let m = explain_up_error(&project(), "docker-compose", "ERROR: pull access denied for nosuch/image");
        assert!(m.contains("could not get an image") && m.contains("nosuch/image"), "{m}");
        let m = explain_up_error(&project(), "docker compose", "ERROR: something odd\n");
        assert_eq!(m, "docker compose up failed: ERROR: something odd");
    }
}
