//! `stackctl doctor`: checks what the stack needs (engine, compose, free
//! ports, memory, `host.docker.internal` from a container, images) and says
//! for each failing check how to fix it. Exit 0 when all pass, 3 when the
//! engine or compose is missing, 1 when another check fails.

use std::time::Duration;

use super::engine::compose::ComposeConfig;
use super::engine::docker::{self, ServiceState};
use super::engine::project::PORTS;
use super::engine::{block_on, finish, ports, Compose, Failure, Project, ProjectArgs, EXIT_ENGINE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// A local image with `sh` to resolve host.docker.internal in (default:
    /// the stack's mariadb or prometheus image, or debian:bookworm-slim).
    #[arg(long, value_name = "IMAGE")]
    pub probe_image: Option<String>,
}

#[derive(Debug)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
    Check { name: name.into(), ok: true, detail: detail.into(), fix: None }
}
fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check { name: name.into(), ok: false, detail: detail.into(), fix: Some(fix.into()) }
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(doctor(&args))
}

fn doctor(args: &Args) -> Result<(), Failure> {
    let mut checks = Vec::new();
    let project = match Project::open(&args.project.project_dir) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("note: {}; checking the default ports only", e.message);
            None
        }
    };
    let compose = match Compose::detect() {
        Ok(c) => {
            checks.push(pass("compose", format!("{} {}", c.name(), c.version)));
            Some(c)
        }
        Err(e) => {
            checks.push(fail("compose", "not installed", e.message));
            None
        }
    };
    let config = match (&compose, &project) {
        (Some(c), Some(p)) => match c.config(p) {
            Ok(cfg) => Some(cfg),
            Err(e) => {
                checks.push(fail("compose file", "rejected", e.message));
                None
            }
        },
        _ => None,
    };
    let engine_ok = block_on(engine_checks(&mut checks, project.as_ref(), config.as_ref(), args));
    for c in &checks {
        println!("[{}] {:<22} {}", if c.ok { " ok " } else { "FAIL" }, c.name, c.detail);
        if let Some(fix) = &c.fix {
            println!("       fix: {fix}");
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("all {} checks passed", checks.len());
        return Ok(());
    }
    let message = format!("{failed} of {} checks failed; each says how to fix it above", checks.len());
    if !engine_ok || compose.is_none() {
        Err(Failure { code: EXIT_ENGINE, message })
    } else {
        Err(Failure::failed(message))
    }
}

/// Engine-side checks; the port check runs either way. Returns whether the engine answered.
async fn engine_checks(
    checks: &mut Vec<Check>,
    project: Option<&Project>,
    config: Option<&ComposeConfig>,
    args: &Args,
) -> bool {
    let engine = match docker::connect().await {
        Ok(d) => {
            let v = d.version().await.ok();
            let detail = v
                .map(|v| {
                    format!(
                        "Docker {} (API {}) at {}",
                        v.version.unwrap_or_default(),
                        v.api_version.unwrap_or_default(),
                        docker::docker_host()
                    )
                })
                .unwrap_or_default();
            checks.push(pass("docker engine", detail));
            Some(d)
        }
        Err(e) => {
            checks.push(fail("docker engine", format!("not reachable at {}", docker::docker_host()), e.message));
            None
        }
    };
    let own = match (&engine, project) {
        (Some(d), Some(p)) => docker::services(d, &p.name).await.unwrap_or_default(),
        _ => Vec::new(),
    };
    port_checks(checks, project, &own);
    let Some(d) = engine else {
        checks.push(fail("memory, images, host.docker.internal", "not checked", "start the Docker engine first"));
        return false;
    };
    memory_check(checks, &d, config).await;
    host_gateway_check(checks, &d, config, args).await;
    if let Some(cfg) = config {
        image_checks(checks, &d, cfg).await;
    }
    true
}

fn port_checks(checks: &mut Vec<Check>, project: Option<&Project>, own: &[ServiceState]) {
    for (key, default, what) in PORTS {
        if let Some(p) = project {
            if !p.dotenv.contains_key(key) && std::env::var(key).is_err() {
                continue; // this project does not publish it
            }
        }
        let port = project.map_or(default, |p| p.port(key, default));
        let name = format!("port {port} ({key})");
        if let Some(s) = own.iter().find(|s| s.ports.iter().any(|x| x.host_port == port)) {
            checks.push(pass(name, format!("{what}: published by this stack's {}", s.service)));
        } else if ports::is_free(port) {
            checks.push(pass(name, format!("{what}: free")));
        } else {
            let holder = ports::holder(port).unwrap_or_else(|| "another process".into());
            let env = project.map_or_else(|| ".env".to_owned(), |p| format!("{}/.env", p.dir.display()));
            checks.push(fail(
                name,
                format!("{what}: taken by {holder}"),
                format!("stop {holder}, or set {key} to a free port in {env}"),
            ));
        }
    }
}

async fn memory_check(checks: &mut Vec<Check>, d: &bollard::Docker, config: Option<&ComposeConfig>) {
    let limits: u64 = config.map_or(0, |c| c.services.iter().filter_map(|s| s.mem_limit).sum());
    let need = if limits > 0 { limits } else { 2 << 30 };
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    match docker::engine_memory(d).await {
        Ok(total) if total >= need => checks.push(pass(
            "memory",
            format!("{:.1} GiB for the engine, the stack needs {:.1} GiB", gib(total), gib(need)),
        )),
        Ok(total) => checks.push(fail(
            "memory",
            format!("{:.1} GiB for the engine, the stack's memory limits add up to {:.1} GiB", gib(total), gib(need)),
            "give the engine more memory (Docker Desktop: Settings > Resources), or leave out services with \
             `stackctl init --without ...`",
        )),
        Err(e) => checks.push(fail("memory", "unknown", e.message)),
    }
}

async fn host_gateway_check(checks: &mut Vec<Check>, d: &bollard::Docker, config: Option<&ComposeConfig>, args: &Args) {
    const NAME: &str = "host.docker.internal";
    let mut candidates: Vec<String> = args.probe_image.iter().cloned().collect();
    if let Some(cfg) = config {
        for svc in ["mariadb", "prometheus"] {
            candidates.extend(cfg.services.iter().filter(|s| s.name == svc).filter_map(|s| s.image.clone()));
        }
    }
    candidates.push("debian:bookworm-slim".into());
    let mut image = None;
    for c in candidates {
        if docker::image_present(d, &c).await {
            image = Some(c);
            break;
        }
    }
    let Some(image) = image else {
        checks.push(fail(
            NAME,
            "no local image with a shell to test it in",
            "pass --probe-image IMAGE (any local image with `sh`)",
        ));
        return;
    };
    let cmd = ["sh", "-c", "getent hosts host.docker.internal || grep -w host.docker.internal /etc/hosts"];
    let fix = "use Docker 20.10 or later (`host-gateway` needs it) and add extra_hosts: [\"host.docker.internal:host-gateway\"] \
               to the services that call the host; or join a shared external network instead";
    match tokio::time::timeout(
        Duration::from_secs(60),
        docker::run_once(d, &image, &cmd, &["host.docker.internal:host-gateway"]),
    )
    .await
    {
        Ok(Ok((0, out))) if !out.trim().is_empty() => {
            let addr = out.split_whitespace().next().unwrap_or("").to_owned();
            checks.push(pass(NAME, format!("resolves to {addr} in a container (tested with {image})")));
        }
        Ok(Ok((code, out))) => {
            checks.push(fail(NAME, format!("does not resolve in a container (exit {code}: {})", out.trim()), fix))
        }
        Ok(Err(e)) => checks.push(fail(NAME, format!("the probe container failed: {e}"), fix)),
        Err(_) => checks.push(fail(NAME, "the probe container did not finish in 60s", fix)),
    }
}

async fn image_checks(checks: &mut Vec<Check>, d: &bollard::Docker, cfg: &ComposeConfig) {
    for s in &cfg.services {
        let Some(image) = &s.image else { continue };
        let name = format!("image of {}", s.name);
        if docker::image_present(d, image).await {
            checks.push(pass(name, format!("{image} present")));
        } else if s.builds {
            checks.push(pass(name, format!("{image} missing; compose builds it")));
        } else {
            let probe = tokio::time::timeout(Duration::from_secs(20), d.inspect_registry_image(image, None)).await;
            match probe {
                Ok(Ok(_)) => checks.push(pass(name, format!("{image} not present, pullable"))),
                Ok(Err(e)) => {
                    checks.push(fail(name, format!("{image} not present and not pullable ({e})"), pull_fix(&s.name)))
                }
                Err(_) => checks.push(fail(
                    name,
                    format!("{image} not present; the registry did not answer in 20s"),
                    pull_fix(&s.name),
                )),
            }
        }
    }
}

fn pull_fix(service: &str) -> String {
    let key = format!("{}_IMAGE", service.to_uppercase());
    if service == "collector" {
        format!("build it with `stackctl image build`, or set {key} to a local image")
    } else {
        format!("check the network or registry login, load the image (`docker load`), or set {key} to a local image")
    }
}
