//! The Docker engine through bollard: connecting (API version negotiated, so
//! Debian's 20.10 daemon at API 1.41 works), the project's containers and
//! their health, log tails, local images, throwaway containers, builds.
//! bollard rather than parsing `docker` CLI output: typed answers from the
//! engine API, whichever docker CLI (if any) is installed.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, ContainerSummary, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;
use serde::Serialize;

use super::failure::Failure;

/// Where the engine is expected, for messages.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// The sentence for an engine that does not answer.
pub fn engine_down(err: impl std::fmt::Display) -> String {
    format!(
        "the Docker engine is not reachable at {} ({err}); start it (`sudo systemctl start docker`, or `sudo dockerd &` \
         where there is no systemd) or point DOCKER_HOST at a running engine",
        docker_host()
    )
}

/// Connects and negotiates the API version with the daemon.
pub async fn connect() -> Result<Docker, Failure> {
    let docker = Docker::connect_with_defaults().map_err(|e| Failure::engine(engine_down(e)))?;
    docker.negotiate_version().await.map_err(|e| Failure::engine(engine_down(e)))
}

/// A published port of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

/// One compose service's container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub service: String,
    pub container: String,
    /// `running`, `exited`, `created`, `restarting`, ...
    pub state: String,
    /// `healthy`, `starting`, `unhealthy`, or `none` without a healthcheck.
    pub health: String,
    pub ports: Vec<Published>,
}

impl ServiceState {
    /// Up and, where it has a healthcheck, healthy.
    pub fn is_ready(&self) -> bool {
        self.state == "running" && (self.health == "healthy" || self.health == "none")
    }

    /// Will not become ready without intervention.
    pub fn has_failed(&self) -> bool {
        matches!(self.state.as_str(), "exited" | "dead") || self.health == "unhealthy"
    }

    /// The host port published for a container port.
    pub fn host_port(&self, container_port: u16) -> Option<u16> {
        self.ports.iter().find(|p| p.container_port == container_port).map(|p| p.host_port)
    }

    /// From a `/containers/json` entry; `health` from the status text
    /// (`Up 5 seconds (healthy)`), which is what the list call carries.
    pub fn from_summary(c: &ContainerSummary) -> Option<ServiceState> {
        let labels = c.labels.as_ref()?;
        let service = labels.get("com.docker.compose.service")?.clone();
        let status = c.status.clone().unwrap_or_default();
        let health = ["unhealthy", "healthy", "health: starting"]
            .iter()
            .find(|h| status.contains(&format!("({h})")))
            .map_or("none", |h| h.trim_start_matches("health: "))
            .to_owned();
        let mut ports: Vec<Published> = c
            .ports
            .iter()
            .flatten()
            .filter_map(|p| {
                Some(Published {
                    host_ip: p.ip.clone().unwrap_or_default(),
                    host_port: p.public_port?,
                    container_port: p.private_port,
                    protocol: p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
                })
            })
            .collect();
        ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
        ports.dedup_by(|a, b| a.container_port == b.container_port && a.host_port == b.host_port);
        Some(ServiceState {
            service,
            container: c
                .names
                .iter()
                .flatten()
                .next()
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            health,
            ports,
        })
    }
}

/// The project's containers (running or not), by service name.
pub async fn services(docker: &Docker, project: &str) -> Result<Vec<ServiceState>, Failure> {
    let filters = HashMap::from([("label".to_string(), vec![format!("com.docker.compose.project={project}")])]);
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::default().all(true).filters(&filters).build()))
        .await
        .map_err(|e| Failure::engine(engine_down(e)))?;
    let mut out: Vec<ServiceState> = list.iter().filter_map(ServiceState::from_summary).collect();
    out.sort_by(|a, b| a.service.cmp(&b.service).then(a.container.cmp(&b.container)));
    Ok(out)
}

/// The last `lines` lines a container wrote (stdout and stderr).
pub async fn log_tail(docker: &Docker, container: &str, lines: usize) -> String {
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
    let mut stream = docker.logs(container, Some(opts));
    let mut out = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => out.push_str(&chunk.to_string()),
            Err(e) => {
                out.push_str(&format!("(reading the logs failed: {e})\n"));
                break;
            }
        }
    }
    out
}

/// What the container's last health check printed (why it is unhealthy).
pub async fn last_health_output(docker: &Docker, container: &str) -> Option<String> {
    let c = docker.inspect_container(container, None).await.ok()?;
    let log = c.state?.health?.log?;
    let last = log.last()?;
    Some(format!("exit {}: {}", last.exit_code.unwrap_or(-1), last.output.clone().unwrap_or_default().trim()))
}

/// Whether an image exists locally.
pub async fn image_present(docker: &Docker, image: &str) -> bool {
    docker.inspect_image(image).await.is_ok()
}

/// Runs `cmd` in a throwaway container of `image` with the given extra
/// hosts, waits for it, returns (exit code, output) and removes it.
pub async fn run_once(
    docker: &Docker,
    image: &str,
    cmd: &[&str],
    extra_hosts: &[&str],
) -> Result<(i64, String), String> {
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        entrypoint: Some(cmd.iter().map(|s| s.to_string()).collect()),
        cmd: Some(vec![]),
        user: Some("0".into()),
        host_config: Some(HostConfig {
            extra_hosts: Some(extra_hosts.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }),
        labels: Some(HashMap::from([("otelstack.stackctl".to_string(), "probe".to_string())])),
        ..Default::default()
    };
    let name = format!("stackctl-probe-{}-{}", std::process::id(), fastrand::u32(..));
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = docker.create_container(Some(opts), body).await.map_err(|e| e.to_string())?;
    let result = async {
        docker.start_container(&created.id, None).await.map_err(|e| e.to_string())?;
        let mut wait = docker.wait_container(&created.id, None);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            // a non-zero exit arrives as an error carrying the code
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the container vanished".into()),
        };
        Ok((code, log_tail(docker, &created.id, 50).await))
    }
    .await;
    let rm = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    let _ = docker.remove_container(&created.id, Some(rm)).await;
    result
}

/// Builds an image from an in-memory tar context; prints the build's output.
pub async fn build(docker: &Docker, context_tar: Vec<u8>, tag: &str) -> Result<String, String> {
    let opts = BuildImageOptionsBuilder::default().dockerfile("Dockerfile").t(tag).rm(true).forcerm(true).build();
    let mut stream = docker.build_image(opts, None, Some(bollard::body_full(context_tar.into())));
    let mut id = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| e.to_string())?;
        if let Some(detail) = info.error_detail {
            return Err(detail.message.unwrap_or_else(|| "the build failed".into()));
        }
        if let Some(s) = info.stream {
            print!("{s}");
        }
        if let Some(aux) = info.aux.and_then(|a| a.id) {
            id = aux;
        }
    }
    Ok(id)
}

/// The engine's memory (bytes), as `docker info` reports it.
pub async fn engine_memory(docker: &Docker) -> Result<u64, Failure> {
    let info = docker.info().await.map_err(|e| Failure::engine(engine_down(e)))?;
    Ok(info.mem_total.unwrap_or(0).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // `/containers/json` entries as Docker 20.10 returns them for a compose project.
    const LIST: &str = r#"[
 {"Id":"a1","Names":["/demo_collector_1"],"Image":"otelstack-test/collector:local","State":"running",
  "Status":"Up 12 seconds (healthy)",
  "Ports":[{"IP":"0.0.0.0","PrivatePort":4317,"PublicPort":14317,"Type":"tcp"},
           {"IP":"::","PrivatePort":4317,"PublicPort":14317,"Type":"tcp"},
           {"IP":"127.0.0.1","PrivatePort":13133,"PublicPort":23133,"Type":"tcp"},
           {"PrivatePort":55679,"Type":"tcp"}],
  "Labels":{"com.docker.compose.project":"demo","com.docker.compose.service":"collector"}},
 {"Id":"b2","Names":["/demo_mariadb_1"],"State":"running","Status":"Up 3 seconds (health: starting)",
  "Ports":[],"Labels":{"com.docker.compose.project":"demo","com.docker.compose.service":"mariadb"}},
 {"Id":"c3","Names":["/demo_prometheus_1"],"State":"exited","Status":"Exited (1) 2 seconds ago",
  "Ports":[],"Labels":{"com.docker.compose.project":"demo","com.docker.compose.service":"prometheus"}},
 {"Id":"d4","Names":["/demo_jaeger_1"],"State":"running","Status":"Up 2 minutes (unhealthy)",
  "Labels":{"com.docker.compose.project":"demo","com.docker.compose.service":"jaeger"}},
 {"Id":"e5","Names":["/loose"],"State":"running","Status":"Up 1 hour","Labels":{}}
]"#;

    fn states() -> Vec<ServiceState> {
        let list: Vec<ContainerSummary> = serde_json::from_str(LIST).unwrap();
        list.iter().filter_map(ServiceState::from_summary).collect()
    }

    #[test]
    fn container_list_becomes_service_states() {
        let s = states();
        assert_eq!(s.len(), 4, "the container without compose labels is not a service");
        let col = &s[0];
        assert_eq!((col.service.as_str(), col.container.as_str()), ("collector", "demo_collector_1"));
        assert_eq!((col.state.as_str(), col.health.as_str()), ("running", "healthy"));
        assert!(col.is_ready() && !col.has_failed());
        // IPv4 and IPv6 bindings of one port collapse; unpublished ports are left out
        assert_eq!(col.ports.len(), 2);
        assert_eq!(col.host_port(4317), Some(14317));
        assert_eq!(col.host_port(13133), Some(23133));
        assert_eq!(col.ports[1].host_ip, "127.0.0.1");
        assert_eq!(s[1].health, "starting");
        assert!(!s[1].is_ready() && !s[1].has_failed());
        assert_eq!((s[2].state.as_str(), s[2].health.as_str()), ("exited", "none"));
        assert!(s[2].has_failed());
        assert_eq!(s[3].health, "unhealthy");
        assert!(s[3].has_failed());
    }

    #[test]
    fn status_json_shape() {
        let v = serde_json::to_value(&states()[0]).unwrap();
        assert_eq!(v["service"], "collector");
        assert_eq!(v["health"], "healthy");
        assert_eq!(v["ports"][0]["host_port"], 14317);
        assert_eq!(v["ports"][0]["container_port"], 4317);
        assert_eq!(v["ports"][0]["protocol"], "tcp");
    }

    #[test]
    fn engine_down_says_how_to_start_it() {
        let m = engine_down("connection refused");
        assert!(m.contains("not reachable") && m.contains("systemctl start docker") && m.contains("DOCKER_HOST"));
    }
}
