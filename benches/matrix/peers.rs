//! The two collectors as the matrix runs them: OTLP gRPC and HTTP receivers,
//! a batch stage, and an OTLP/gRPC exporter to the sink, for all three signals
//! at once, each collector as its own process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::collector::{Compression, Kind};

pub struct Peer {
    pub kind: Kind,
    pub pid: u32,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    health: Option<SocketAddr>,
    child: Child,
    pub log: PathBuf,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// otelcol's batch defaults (8192 items, 200 ms) in both collectors;
/// `BENCH_MEMORY_LIMIT_MIB` puts a `memory_limiter` (spike 20%) in front.
pub fn otelstack_config(grpc: u16, http: u16, health: u16, metrics: u16, sink: SocketAddr, c: Compression) -> String {
    let limit = std::env::var("BENCH_MEMORY_LIMIT_MIB").ok().and_then(|v| v.trim().parse::<u64>().ok());
    let (limiter, processors) = match limit {
        Some(mib) => (
            format!(
                "  memory_limiter:\n    check_interval: 100ms\n    limit_mib: {mib}\n    spike_limit_mib: {}\n",
                mib / 5
            ),
            "[memory_limiter, batch]",
        ),
        None => (String::new(), "[batch]"),
    };
    let mut pipelines = String::new();
    for signal in ["traces", "metrics", "logs"] {
        pipelines.push_str(&format!(
            "    {signal}:\n      receivers: [otlp]\n      processors: {processors}\n      exporters: [otlp]\n"
        ));
    }
    format!(
        "receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
processors:
{limiter}  batch: {{}}
exporters:
  otlp:
    endpoint: {sink}
    tls:
      insecure: true
    compression: {compression}
    sending_queue:
      block_on_overflow: true{queue}
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
{pipelines}",
        compression = c.as_str(),
        queue = queue_override(),
    )
}

/// `BENCH_QUEUE_SIZER` / `BENCH_QUEUE_SIZE` override otelcol's sending_queue
/// defaults (`requests`, 1000) in otelstack's config, e.g. `bytes` and
/// `67108864` to bound the queue by what it holds rather than by batch count.
fn queue_override() -> String {
    let mut s = String::new();
    for (var, key) in [("BENCH_QUEUE_SIZER", "sizer"), ("BENCH_QUEUE_SIZE", "queue_size")] {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            s.push_str(&format!("\n      {key}: {}", v.trim()));
        }
    }
    s
}

impl Peer {
    pub fn start(kind: Kind, bin: &Path, workdir: &Path, sink: SocketAddr, c: Compression) -> anyhow::Result<Peer> {
        std::fs::create_dir_all(workdir)?;
        let (grpc, http) = (free_port()?, free_port()?);
        let log = workdir.join(format!("{kind}.log"));
        let logfile = std::fs::File::create(&log)?;
        let mut cmd = Command::new(bin);
        let mut health = None;
        match kind {
            Kind::Otelstack => {
                let (h, m) = (free_port()?, free_port()?);
                health = Some(localhost(h));
                let config = workdir.join("otelstack.yaml");
                std::fs::write(&config, otelstack_config(grpc, http, h, m, sink, c))?;
                cmd.arg("--config").arg(&config);
            }
            Kind::Rotel => {
                cmd.arg("start")
                    .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
                    .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
                    .args(["--exporter", "otlp", "--otlp-exporter-endpoint", &format!("http://{sink}")])
                    .args(["--otlp-exporter-protocol", "grpc", "--otlp-exporter-compression", c.as_str()])
                    .args(["--batch-max-size", "8192", "--batch-timeout", "200ms"])
                    .arg("--pid-file")
                    .arg(workdir.join("rotel.pid"))
                    .arg("--log-file")
                    .arg(workdir.join("rotel-agent.log"));
            }
        }
        cmd.stdin(Stdio::null()).stdout(logfile.try_clone()?).stderr(logfile).env_remove("RUST_LOG");
        let child = cmd.spawn().with_context(|| format!("starting {kind} from {}", bin.display()))?;
        Ok(Peer { kind, pid: child.id(), grpc: localhost(grpc), http: localhost(http), health, child, log })
    }

    /// Both receiver ports accept connections (and otelstack's health check answers 200).
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited during start-up with {status}; see {}", self.kind, self.log.display());
            }
            let up = |a: &SocketAddr| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok();
            if up(&self.grpc) && up(&self.http) && self.health.is_none_or(health_ok) {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("{} not ready after {timeout:?}; see {}", self.kind, self.log.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("had already exited: {status}");
        }
        send_signal(self.pid, "-TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return format!("exited after SIGTERM in {:?}: {status}", start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        "killed after 10 s without exiting on SIGTERM".into()
    }
}

fn send_signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
}

pub fn health_ok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].starts_with(b"HTTP/1.1 200") || buf[..n].starts_with(b"HTTP/1.0 200")
}
