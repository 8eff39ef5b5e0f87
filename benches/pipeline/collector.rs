//! Starting, probing and stopping the collectors under test, each as its own
//! process: the process handling both benches share (benches/matrix.rs
//! includes this file too), and the pipeline bench's own config.

use std::ffi::OsString;
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

/// A collector under test, running as its own process.
pub struct Collector {
    pub kind: Kind,
    /// The collector's own pid (not perf's when it runs under `perf record`).
    pub pid: u32,
    profiled: bool,
    /// The OTLP/gRPC receiver.
    pub grpc: SocketAddr,
    /// The OTLP/HTTP receiver, when the bench sends to it (and waits for it).
    pub http: Option<SocketAddr>,
    health: Option<SocketAddr>,
    child: Child,
    pub log: PathBuf,
}

/// How to start a collector: its arguments and the ports that say it is ready.
pub struct Launch {
    pub args: Vec<OsString>,
    pub grpc: u16,
    pub http: Option<u16>,
    pub health: Option<u16>,
}

impl Launch {
    /// otelstack with `config`, written to `workdir/otelstack.yaml`.
    pub fn otelstack(workdir: &Path, config: &OtelstackConfig) -> anyhow::Result<Launch> {
        let (health, metrics) = (free_port()?, free_port()?);
        let path = workdir.join("otelstack.yaml");
        std::fs::create_dir_all(workdir)?;
        std::fs::write(&path, config.yaml(health, metrics))?;
        Ok(Launch {
            args: vec!["--config".into(), path.into()],
            grpc: config.grpc,
            http: config.http,
            health: Some(health),
        })
    }

    /// Rotel with OTLP receivers on `grpc` and `http` (it always opens both)
    /// and the same pipeline as otelstack's: batch, then OTLP/gRPC to the sink.
    pub fn rotel(workdir: &Path, grpc: u16, http: u16, probe_http: bool, p: &PipelineSettings) -> Launch {
        let args: Vec<OsString> = vec![
            "start".into(),
            "--otlp-grpc-endpoint".into(),
            format!("127.0.0.1:{grpc}").into(),
            "--otlp-http-endpoint".into(),
            format!("127.0.0.1:{http}").into(),
            "--exporter".into(),
            "otlp".into(),
            "--otlp-exporter-endpoint".into(),
            format!("http://{}", p.sink).into(),
            "--otlp-exporter-protocol".into(),
            "grpc".into(),
            "--otlp-exporter-compression".into(),
            // Rotel 0.0.1a15's gRPC exporter still gzips with `none` (with
            // this flag and with --otlp-exporter-traces-compression); the
            // sink records the grpc-encoding it receives and the reports
            // flag the mismatch.
            p.compression.as_str().into(),
            "--batch-max-size".into(),
            p.batch_size.to_string().into(),
            "--batch-timeout".into(),
            format!("{}ms", p.batch_timeout_ms).into(),
            "--pid-file".into(),
            workdir.join("rotel.pid").into(),
            "--log-file".into(),
            workdir.join("rotel-agent.log").into(),
        ];
        Launch { args, grpc, http: probe_http.then_some(http), health: None }
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// otelstack's config in both benches: the OTLP receiver (gRPC, and HTTP
/// with `http`), batch with otelcol's defaults (`batch: {}`), behind a
/// `memory_limiter` when asked, and an OTLP/gRPC exporter to the sink that
/// blocks rather than drops when its queue is full; a pipeline per signal.
pub struct OtelstackConfig {
    pub grpc: u16,
    pub http: Option<u16>,
    pub sink: SocketAddr,
    pub compression: Compression,
    pub signals: &'static [&'static str],
    /// `memory_limiter`'s `limit_mib` (its spike limit is a fifth of it).
    pub memory_limit_mib: Option<u64>,
    /// `sending_queue` keys besides `block_on_overflow`, e.g. `("sizer", "bytes")`.
    pub queue: Vec<(&'static str, String)>,
}

impl OtelstackConfig {
    /// The YAML, with the health check and self metrics on `health` and `metrics`.
    pub fn yaml(&self, health: u16, metrics: u16) -> String {
        let http = self.http.map_or(String::new(), |p| format!("      http:\n        endpoint: 127.0.0.1:{p}\n"));
        let (limiter, processors) = match self.memory_limit_mib {
            Some(mib) => (
                format!(
                    "  memory_limiter:\n    check_interval: 100ms\n    limit_mib: {mib}\n    spike_limit_mib: {}\n",
                    mib / 5
                ),
                "[memory_limiter, batch]",
            ),
            None => (String::new(), "[batch]"),
        };
        let queue: String = self.queue.iter().map(|(key, v)| format!("\n      {key}: {v}")).collect();
        let pipelines: String = self
            .signals
            .iter()
            .map(|signal| {
                format!(
                    "    {signal}:\n      receivers: [otlp]\n      processors: {processors}\n      exporters: [otlp]\n"
                )
            })
            .collect();
        format!(
            "receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
{http}processors:
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
            grpc = self.grpc,
            sink = self.sink,
            compression = self.compression.as_str(),
        )
    }
}

impl Collector {
    /// Starts a collector with the pipeline bench's settings (see [`Collector::spawn`] for `perf`).
    pub fn start(
        kind: Kind,
        bin: &Path,
        workdir: &Path,
        p: &PipelineSettings,
        perf: Option<(&Path, bool)>,
    ) -> anyhow::Result<Collector> {
        let receiver = free_port()?;
        let launch = match kind {
            Kind::Otelstack => Launch::otelstack(
                workdir,
                &OtelstackConfig {
                    grpc: receiver,
                    http: None,
                    sink: p.sink,
                    compression: p.compression,
                    signals: &["traces"],
                    memory_limit_mib: None,
                    queue: Vec::new(),
                },
            )?,
            Kind::Rotel => Launch::rotel(workdir, receiver, free_port()?, false, p),
        };
        Collector::spawn(kind, bin, workdir, launch, perf)
    }

    /// Starts the collector, its output in `workdir/{kind}.log`; with
    /// `perf = Some((data file, call graphs?))` it runs under `perf record`.
    pub fn spawn(
        kind: Kind,
        bin: &Path,
        workdir: &Path,
        launch: Launch,
        perf: Option<(&Path, bool)>,
    ) -> anyhow::Result<Collector> {
        std::fs::create_dir_all(workdir)?;
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
        cmd.args(&launch.args);
        cmd.stdin(Stdio::null()).stdout(logfile.try_clone()?).stderr(logfile).env_remove("RUST_LOG");
        let child = cmd.spawn().with_context(|| format!("starting {kind} from {}", bin.display()))?;
        let pid = match perf {
            None => child.id(),
            Some(_) => workload_pid(child.id())?,
        };
        Ok(Collector {
            kind,
            pid,
            profiled: perf.is_some(),
            grpc: localhost(launch.grpc),
            http: launch.http.map(localhost),
            health: launch.health.map(localhost),
            child,
            log,
        })
    }

    /// Waits until the receiver ports accept connections (and, for otelstack,
    /// the health endpoint answers 200).
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited during start-up with {status}; log: {}", self.kind, self.log_tail());
            }
            let up = |a: &SocketAddr| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok();
            if up(&self.grpc) && self.http.as_ref().is_none_or(up) && self.health.is_none_or(health_ok) {
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
