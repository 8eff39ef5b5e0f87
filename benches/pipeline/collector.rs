//! Starting, probing and stopping the collectors under test, each as its own process.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Otelstack,
    Rotel,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Otelstack => "otelstack",
            Kind::Rotel => "rotel",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    None,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
    }
}

/// Settings shared by both collectors so the comparison is like for like.
/// The batch settings are otelcol's batch processor defaults (8192 spans,
/// 200 ms), which is what `batch: {}` means in the otelstack config; Rotel gets
/// them as explicit flags (they are its defaults too).
pub struct PipelineSettings {
    pub sink: SocketAddr,
    pub compression: Compression,
    pub batch_size: u32,
    pub batch_timeout_ms: u32,
}

pub struct Collector {
    pub kind: Kind,
    /// The collector's own pid (not perf's when it runs under `perf record`).
    pub pid: u32,
    profiled: bool,
    pub receiver: SocketAddr,
    health: Option<SocketAddr>,
    child: Child,
    pub log: PathBuf,
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

pub fn otelstack_config(receiver: u16, health: u16, metrics: u16, p: &PipelineSettings) -> String {
    format!(
        "receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{receiver}
processors:
  batch: {{}}
exporters:
  otlp:
    endpoint: {sink}
    tls:
      insecure: true
    compression: {compression}
    sending_queue:
      block_on_overflow: true
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
service:
  extensions: [health_check]
  telemetry:
    metrics:
      address: 127.0.0.1:{metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
",
        sink = p.sink,
        compression = p.compression.as_str(),
    )
}

impl Collector {
    /// Starts the collector; with `perf = Some((data file, call graphs?))` it
    /// runs under `perf record`.
    pub fn start(
        kind: Kind,
        bin: &Path,
        workdir: &Path,
        p: &PipelineSettings,
        perf: Option<(&Path, bool)>,
    ) -> anyhow::Result<Collector> {
        std::fs::create_dir_all(workdir)?;
        let receiver = free_port()?;
        let log = workdir.join(format!("{kind}.log"));
        let logfile = std::fs::File::create(&log)?;
        let mut cmd = match perf {
            None => Command::new(bin),
            Some((data, callgraph)) => {
                let mut c = Command::new("perf");
                c.args(["record", "-F", "499", "-o"]).arg(data);
                if callgraph {
                    c.args(["--call-graph", "dwarf,16384"]);
                }
                c.arg("--").arg(bin);
                c
            }
        };
        let mut health = None;
        match kind {
            Kind::Otelstack => {
                let (h, m) = (free_port()?, free_port()?);
                health = Some(localhost(h));
                let config = workdir.join("otelstack.yaml");
                std::fs::write(&config, otelstack_config(receiver, h, m, p))?;
                cmd.arg("--config").arg(&config);
            }
            Kind::Rotel => {
                let http = free_port()?;
                cmd.arg("start")
                    .arg("--otlp-grpc-endpoint")
                    .arg(format!("127.0.0.1:{receiver}"))
                    .arg("--otlp-http-endpoint")
                    .arg(format!("127.0.0.1:{http}"))
                    .arg("--exporter")
                    .arg("otlp")
                    .arg("--otlp-exporter-endpoint")
                    .arg(format!("http://{}", p.sink))
                    .arg("--otlp-exporter-protocol")
                    .arg("grpc")
                    .arg("--otlp-exporter-compression")
                    // Rotel 0.0.1a15's gRPC exporter still gzips with `none` (with
                    // this flag and with --otlp-exporter-traces-compression); the
                    // sink records the grpc-encoding it receives and the report
                    // flags the mismatch.
                    .arg(p.compression.as_str())
                    .arg("--batch-max-size")
                    .arg(p.batch_size.to_string())
                    .arg("--batch-timeout")
                    .arg(format!("{}ms", p.batch_timeout_ms))
                    .arg("--pid-file")
                    .arg(workdir.join("rotel.pid"))
                    .arg("--log-file")
                    .arg(workdir.join("rotel-agent.log"));
            }
        }
        cmd.stdin(Stdio::null()).stdout(logfile.try_clone()?).stderr(logfile).env_remove("RUST_LOG");
        let child = cmd.spawn().with_context(|| format!("starting {kind} from {}", bin.display()))?;
        let pid = match perf {
            None => child.id(),
            Some(_) => workload_pid(child.id())?,
        };
        Ok(Collector { kind, pid, profiled: perf.is_some(), receiver: localhost(receiver), health, child, log })
    }

    /// Waits until the receiver port accepts connections (and, for otelstack,
    /// the health endpoint answers 200).
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited during start-up with {status}; log: {}", self.kind, self.log_tail());
            }
            let receiver_up = TcpStream::connect_timeout(&self.receiver, Duration::from_millis(200)).is_ok();
            let health_up = self.health.is_none_or(health_ok);
            if receiver_up && health_up {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!("{} not ready after {timeout:?}; log: {}", self.kind, self.log_tail());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then SIGKILL after 10 s. Returns how it ended.
    pub fn stop(mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return format!("had already exited: {status}");
        }
        signal("-TERM", self.pid);
        let start = Instant::now();
        // perf writes its data after the collector exits.
        let limit = Duration::from_secs(if self.profiled { 60 } else { 10 });
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return format!("exited after SIGTERM in {:?}: {status}", start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL", self.pid);
        let _ = self.child.kill();
        let _ = self.child.wait();
        format!("killed after {limit:?} without exiting on SIGTERM")
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill").arg(sig).arg(pid.to_string()).status();
}

/// The pid of the process `perf record` (pid `perf`) started.
fn workload_pid(perf: u32) -> anyhow::Result<u32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let children = std::fs::read_to_string(format!("/proc/{perf}/task/{perf}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next().and_then(|p| p.parse().ok()) {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("perf record (pid {perf}) started no collector process")
}

fn health_ok(addr: SocketAddr) -> bool {
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
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")
}
