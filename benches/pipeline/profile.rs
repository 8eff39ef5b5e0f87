//! Optional `perf record` of the collector during the load (`BENCH_PERF=1`, or
//! `BENCH_PERF=callgraph` for DWARF call graphs). perf itself costs CPU on the
//! shared cores, so numbers from a profiled run are not comparable.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Profiler {
    child: Child,
    data: PathBuf,
}

impl Profiler {
    /// Starts `perf record` on `pid`, writing `<dir>/<label>.perf.data`.
    pub fn start(pid: u32, dir: &Path, label: &str, callgraph: bool) -> anyhow::Result<Profiler> {
        std::fs::create_dir_all(dir)?;
        let data = dir.join(format!("{label}.perf.data"));
        let mut cmd = Command::new("perf");
        cmd.args(["record", "-F", "499", "-p", &pid.to_string(), "-o"])
            .arg(&data);
        if callgraph {
            cmd.args(["--call-graph", "dwarf,16384"]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Profiler { child, data })
    }

    /// Stops recording (SIGINT) and writes a flat report of the hottest
    /// symbols next to the data file. Returns the report's path.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while self.child.try_wait()?.is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.wait();
        let out = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "--sort",
                "dso,symbol",
                "-i",
            ])
            .arg(&self.data)
            .args(["--percent-limit", "0.5"])
            .output()?;
        let txt = self.data.with_extension("txt");
        std::fs::write(&txt, &out.stdout)?;
        Ok(txt)
    }
}
