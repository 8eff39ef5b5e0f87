//! `stackctl workshop load [--rps N] [--duration D]`: traffic for the demo.
//! Requests go out on a fixed schedule (request i at i/rps seconds), each
//! one step of a user journey drawn by weight (browse 6, cart 3, checkout
//! 1); every request carries a W3C `traceparent`, the steps of one journey
//! share its trace id. Bounded by --duration and --max-requests, and by
//! --concurrency in flight (a tick with no free slot is counted as skipped,
//! so a slow target never grows memory). A progress line shows rate, errors
//! and p95 each second; a summary ends the run. During `traffic-spike` the
//! rate is multiplied by [`control::SPIKE_FACTOR`].

use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

use super::super::engine::{block_on, finish, Failure};
use super::control;
use super::project::{self, WorkshopArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Requests per second.
    #[arg(long, default_value_t = 5.0)]
    pub rps: f64,
    /// How long to send (e.g. 30s, 5m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Stop after this many requests, whatever the duration.
    #[arg(long, default_value_t = 100_000)]
    pub max_requests: u64,
    /// Requests in flight at most.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The web front (default: 127.0.0.1 and WORKSHOP_WEB_PORT from the workshop's .env).
    #[arg(long)]
    pub url: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub workshop: WorkshopArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Journey {
    Browse,
    Cart,
    Checkout,
}

/// Journeys and their weights: most visitors browse, few buy.
pub const WEIGHTS: [(Journey, u32); 3] = [(Journey::Browse, 6), (Journey::Cart, 3), (Journey::Checkout, 1)];

impl Journey {
    /// The requests of the journey, in order: (method, path).
    pub fn steps(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Journey::Browse => &[("GET", "/")],
            Journey::Cart => &[("GET", "/"), ("POST", "/cart")],
            Journey::Checkout => &[("GET", "/"), ("POST", "/cart"), ("POST", "/checkout")],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Journey::Browse => "browse",
            Journey::Cart => "cart",
            Journey::Checkout => "checkout",
        }
    }

    fn draw() -> Journey {
        let total: u32 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut pick = fastrand::u32(0..total);
        for (j, w) in WEIGHTS {
            if pick < w {
                return j;
            }
            pick -= w;
        }
        Journey::Browse
    }
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct Plan {
    pub url: String,
    pub rps: f64,
    pub duration: Duration,
    pub max_requests: u64,
    pub concurrency: usize,
    /// The scenario file read for `traffic-spike`; none: never spike.
    pub control: Option<PathBuf>,
    /// Print the progress line.
    pub progress: bool,
}

/// The end-of-run figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub sent: u64,
    pub ok: u64,
    pub errors: u64,
    /// ticks with no free slot (the target is slower than the rate)
    pub skipped: u64,
    pub elapsed_seconds: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// journeys started, by name
    pub journeys: BTreeMap<String, u64>,
    /// answers by status code, `transport` for no answer
    pub statuses: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    statuses: BTreeMap<String, u64>,
}

/// The nearest-rank percentile (`q` in 0..=1) of sorted values, in ms.
pub fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// A random `traceparent` for a new span of `trace_id` (sampled).
pub fn traceparent(trace_id: &str) -> String {
    let span: u64 = fastrand::u64(1..);
    format!("00-{trace_id}-{span:016x}-01")
}

fn new_trace_id() -> String {
    format!("{:032x}", fastrand::u128(1..))
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(load(&args))
}

fn load(args: &Args) -> Result<(), Failure> {
    if !(args.rps > 0.0 && args.rps <= 10_000.0) {
        return Err(Failure::usage(format!("--rps {} is out of range; give a rate between 0 and 10000", args.rps)));
    }
    if args.duration.is_zero() || args.concurrency == 0 || args.max_requests == 0 {
        return Err(Failure::usage("--duration, --max-requests and --concurrency must be above zero"));
    }
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let plan = Plan {
        url: args.url.clone().unwrap_or_else(|| project::web_url(&workshop)),
        rps: args.rps,
        duration: args.duration,
        max_requests: args.max_requests,
        concurrency: args.concurrency,
        control: Some(control::file(&workshop.dir)),
        progress: true,
    };
    println!("load: {} req/s for {} to {}", plan.rps, humantime::format_duration(plan.duration), plan.url);
    let summary = block_on(run_plan(&plan));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary).expect("the summary serializes"));
    } else {
        print_summary(&summary);
    }
    if summary.sent > 0 && summary.statuses.get("transport") == Some(&summary.sent) {
        return Err(Failure::failed(format!(
            "no request reached {}; start the apps with `stackctl workshop up` (or pass --url)",
            plan.url
        )));
    }
    Ok(())
}

/// Runs the plan to its end and returns the summary.
pub async fn run_plan(plan: &Plan) -> Summary {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
    let slots = Arc::new(Semaphore::new(plan.concurrency));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = tokio::task::JoinSet::new();
    let mut summary = Summary::default();
    // steps still to send: (journey, step index, trace id)
    let mut queue: VecDeque<(Journey, usize, String)> = VecDeque::new();
    let start = Instant::now();
    // the schedule in whole nanoseconds, so float drift never adds a request
    let (mut due, mut factor, mut checked) = (0u64, 1.0f64, None::<u64>);
    let end = plan.duration.as_nanos() as u64;
    let mut last_progress = 0u64;
    while due < end && summary.sent + summary.skipped < plan.max_requests {
        tokio::time::sleep_until((start + Duration::from_nanos(due)).into()).await;
        if checked.is_none_or(|c| due - c >= 1_000_000_000) {
            checked = Some(due);
            let spike = plan.control.as_ref().is_some_and(|p| control::active(p).name == "traffic-spike");
            factor = if spike { control::SPIKE_FACTOR } else { 1.0 };
        }
        due += (1e9 / (plan.rps * factor)).round().max(1.0) as u64;
        let (journey, step, trace) = queue.pop_front().unwrap_or_else(|| {
            let j = Journey::draw();
            *summary.journeys.entry(j.name().to_owned()).or_default() += 1;
            (j, 0, new_trace_id())
        });
        if step + 1 < journey.steps().len() {
            queue.push_back((journey, step + 1, trace.clone()));
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            summary.skipped += 1;
            continue;
        };
        summary.sent += 1;
        let (method, path) = journey.steps()[step];
        let (client, shared, url) = (client.clone(), tally.clone(), format!("{}{path}", plan.url));
        tasks.spawn(async move {
            let began = Instant::now();
            let mut req = if method == "POST" { client.post(&url) } else { client.get(&url) };
            req = req.header("traceparent", traceparent(&trace));
            if method == "POST" {
                let body = format!(r#"{{"product_id": {}, "quantity": {}}}"#, fastrand::u8(1..=6), fastrand::u8(1..=3));
                req = req.header("content-type", "application/json").body(body);
            }
            let status = match req.send().await {
                Ok(r) => {
                    let code = r.status().as_u16();
                    let _ = r.bytes().await;
                    Some(code)
                }
                Err(_) => None,
            };
            let mut t = shared.lock().unwrap();
            t.latencies_us.push(began.elapsed().as_micros() as u64);
            match status {
                Some(c) if c < 400 => t.ok += 1,
                _ => t.errors += 1,
            }
            *t.statuses.entry(status.map_or("transport".to_owned(), |c| c.to_string())).or_default() += 1;
            drop(permit);
        });
        let secs = start.elapsed().as_secs();
        if plan.progress && secs > last_progress {
            last_progress = secs;
            progress(&tally.lock().unwrap(), summary.sent, start.elapsed().as_secs_f64());
        }
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let mut t = tally.lock().unwrap();
    if plan.progress {
        progress(&t, summary.sent, elapsed);
        eprintln!();
    }
    t.latencies_us.sort_unstable();
    summary.ok = t.ok;
    summary.errors = t.errors;
    summary.statuses = std::mem::take(&mut t.statuses);
    summary.elapsed_seconds = elapsed;
    summary.rate = if elapsed > 0.0 { summary.sent as f64 / elapsed } else { 0.0 };
    summary.p50_ms = percentile_ms(&t.latencies_us, 0.50);
    summary.p95_ms = percentile_ms(&t.latencies_us, 0.95);
    summary.p99_ms = percentile_ms(&t.latencies_us, 0.99);
    summary
}

/// The live line: `12s  sent 118  9.8 req/s  errors 2 (1.7%)  p95 43.0 ms`.
pub fn progress_line(sent: u64, done: u64, errors: u64, p95_ms: f64, elapsed: f64) -> String {
    let rate = if elapsed > 0.0 { sent as f64 / elapsed } else { 0.0 };
    let share = if done > 0 { 100.0 * errors as f64 / done as f64 } else { 0.0 };
    format!("{elapsed:>4.0}s  sent {sent}  {rate:.1} req/s  errors {errors} ({share:.1}%)  p95 {p95_ms:.1} ms")
}

fn progress(t: &Tally, sent: u64, elapsed: f64) {
    let mut l = t.latencies_us.clone();
    l.sort_unstable();
    let line = progress_line(sent, t.ok + t.errors, t.errors, percentile_ms(&l, 0.95), elapsed);
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r{line}   ");
    } else {
        let _ = writeln!(err, "{line}");
    }
}

fn print_summary(s: &Summary) {
    println!(
        "sent {} requests in {:.1}s ({:.1} req/s): {} ok, {} errors, {} skipped (no free slot)",
        s.sent, s.elapsed_seconds, s.rate, s.ok, s.errors, s.skipped
    );
    println!("latency p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms", s.p50_ms, s.p95_ms, s.p99_ms);
    let journeys: Vec<String> = s.journeys.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let statuses: Vec<String> = s.statuses.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    println!("journeys: {}; answers: {}", journeys.join(", "), statuses.join(", "));
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
