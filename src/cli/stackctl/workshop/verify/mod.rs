//! `stackctl workshop verify STEP|--all`: runs the check of one step of the
//! guide (docs/workshop/) against the running stack and says pass or fail.
//! A failed check says where the data stopped (app -> collector -> backend),
//! from the collector's own metrics and the active scenario. Steps whose
//! backend is not in this stack (Tempo, Jaeger, Alertmanager) are reported
//! as not checked, never as passed.

mod backends;
mod outcome;
mod steps;

pub use outcome::{Outcome, Verdict};

use std::time::Duration;

use super::super::engine::http as engine_http;
use super::super::engine::{block_on, finish, Compose, Failure, Project};
use super::control;
use super::project::{self, WorkshopArgs};

/// The guide's steps, in order: id, page title.
pub const STEPS: [(&str, &str); 10] = [
    ("setup", "Check the set-up"),
    ("data-flows", "Data flows"),
    ("follow-request", "Follow one request"),
    ("error-burst", "Error burst and the failures table"),
    ("slow-db", "Slow database"),
    ("bad-deploy", "Bad deploy"),
    ("downstream-down", "Downstream down"),
    ("pipeline", "The pipeline job"),
    ("recover", "Recover"),
    ("bring-your-own", "Bring your own app"),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The step: its id (setup, data-flows, ...) or number (1-10).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub step: Option<String>,
    /// Every step in order.
    #[arg(long)]
    pub all: bool,
    /// How far back the checks look.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub window: Duration,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub workshop: WorkshopArgs,
}

/// Finds a step by id or number.
pub fn step_id(s: &str) -> Result<&'static str, String> {
    if let Ok(n) = s.parse::<usize>() {
        if (1..=STEPS.len()).contains(&n) {
            return Ok(STEPS[n - 1].0);
        }
    }
    STEPS.iter().find(|(id, _)| *id == s).map(|(id, _)| *id).ok_or_else(|| {
        let ids: Vec<&str> = STEPS.iter().map(|(id, _)| *id).collect();
        format!("there is no step {s:?}; use a number 1-{} or one of {}", STEPS.len(), ids.join(", "))
    })
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(verify(&args))
}

fn verify(args: &Args) -> Result<(), Failure> {
    let ids: Vec<&str> = match &args.step {
        Some(s) => vec![step_id(s).map_err(Failure::usage)?],
        None => STEPS.iter().map(|(id, _)| *id).collect(),
    };
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let stack = Project::open(&args.workshop.project_dir)?;
    let services: Vec<String> = Compose::detect()?.config(&stack)?.services.into_iter().map(|s| s.name).collect();
    let env = steps::Env::new(&stack, &workshop, &services, args.window);
    let outcomes: Vec<Outcome> = block_on(async {
        let mut out = Vec::new();
        for id in &ids {
            let mut o = steps::check(&env, id).await;
            if o.verdict == Verdict::Fail {
                o.diagnosis = Some(diagnose(&env.client, &stack, &workshop, id).await);
            }
            out.push(o);
        }
        out
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes).expect("serializes"));
    } else {
        for o in &outcomes {
            let title = STEPS.iter().find(|(id, _)| *id == o.step).map_or("", |(_, t)| t);
            let mark = match o.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::NotChecked => "NOT CHECKED",
            };
            println!("{mark:<11} {} ({title})", o.step);
            for f in &o.findings {
                println!("            {f}");
            }
            if let Some(d) = &o.diagnosis {
                println!("            where it stopped: {d}");
            }
        }
    }
    let failed: Vec<&str> = outcomes.iter().filter(|o| o.verdict == Verdict::Fail).map(|o| o.step.as_str()).collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "step {} failed; the lines above say what was missing and where the data stopped; the guide's page for \
             the step (docs/workshop/) says what to do",
            failed.join(", ")
        )))
    }
}

/// Where the data stopped, read from the collector's self metrics and the scenario file.
async fn diagnose(client: &reqwest::Client, stack: &Project, workshop: &Project, step: &str) -> String {
    let port = stack.port("COLLECTOR_METRICS_PORT", 8888);
    let scenario = control::active(&control::file(&workshop.dir));
    let t = match engine_http::get(client, port, "/metrics").await {
        Ok((200, body)) => engine_http::throughput(&body),
        Ok((code, _)) => {
            return format!("collector: its self metrics on 127.0.0.1:{port} answered {code}; check `stackctl status`")
        }
        Err(e) => {
            return format!(
            "collector: unreachable ({e}); the stack is not running or not healthy: `stackctl up`, `stackctl status`"
        )
        }
    };
    diagnosis_text(&t, &scenario.name, steps::expected_scenario(step))
}

/// The sentence for a failed check, from the collector's counters.
pub fn diagnosis_text(t: &engine_http::Throughput, active: &str, expected: Option<&str>) -> String {
    if let Some(want) = expected {
        if want != active {
            return format!(
                "scenario: this step needs scenario {want} but {active} is active; run `stackctl workshop scenario {want}` \
                 and give it a minute"
            );
        }
    }
    if t.receiver_accepted_spans == 0.0 && t.receiver_accepted_metric_points == 0.0 {
        return "app -> collector: the collector has accepted no spans or metric points; are the apps up \
                (`stackctl workshop status`), sending to host.docker.internal:4317, and is there traffic \
                (`stackctl workshop load`)?"
            .to_owned();
    }
    if t.exporter_sent_spans == 0.0 && t.exporter_sent_metric_points == 0.0 {
        return format!(
            "collector -> backend: the collector accepted {} spans and {} metric points but sent none on; \
             `stackctl logs collector` shows the exporters' errors",
            t.receiver_accepted_spans, t.receiver_accepted_metric_points
        );
    }
    format!(
        "backend: the collector accepted {} spans / {} metric points and sent {} / {} on, so the data reached the \
         exporters; the backend has not stored what this step looks for yet (wait one scrape or flush, about 30 s), \
         or the scenario has not produced it",
        t.receiver_accepted_spans,
        t.receiver_accepted_metric_points,
        t.exporter_sent_spans,
        t.exporter_sent_metric_points
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_by_id_or_number() {
        assert_eq!(step_id("1").unwrap(), "setup");
        assert_eq!(step_id("10").unwrap(), "bring-your-own");
        assert_eq!(step_id("slow-db").unwrap(), "slow-db");
        let e = step_id("11").unwrap_err();
        assert!(e.contains("1-10") && e.contains("error-burst"), "{e}");
    }

    #[test]
    fn the_diagnosis_names_where_the_data_stopped() {
        let none = engine_http::Throughput::default();
        assert!(diagnosis_text(&none, "baseline", None).starts_with("app -> collector"));
        let stuck = engine_http::Throughput { receiver_accepted_spans: 40.0, ..Default::default() };
        assert!(diagnosis_text(&stuck, "baseline", None).starts_with("collector -> backend: the collector accepted 40"));
        let flowing =
            engine_http::Throughput { receiver_accepted_spans: 40.0, exporter_sent_spans: 160.0, ..Default::default() };
        assert!(diagnosis_text(&flowing, "baseline", None).starts_with("backend:"));
        let wrong = diagnosis_text(&flowing, "baseline", Some("slow-db"));
        assert!(wrong.contains("needs scenario slow-db but baseline is active"), "{wrong}");
    }
}
