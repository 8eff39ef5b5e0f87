//! The check behind each step of the guide. Each check runs one or more
//! probes (PromQL, SQL on the failures tables, TraceQL, Alertmanager); the
//! step passes when every probe whose backend is in the stack passes, and is
//! "not checked" when none could run.

use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::backends::{self, Sample};
use super::outcome::{Outcome, Verdict};
use crate::cli::stackctl::engine::http as engine_http;
use crate::cli::stackctl::engine::Project;
use crate::cli::stackctl::failures;

/// The workshop's own services (everything else is "your own app").
pub const WORKSHOP_SERVICES: [&str; 4] = ["web", "orders", "payments", "pipeline"];
const CALLS: &str = "traces_span_metrics_calls_total";
const DURATION: &str = "traces_span_metrics_duration_milliseconds_bucket";
const ERROR: &str = "STATUS_CODE_ERROR";
/// p95 of the orders API's server spans above which the database counts as slow.
pub const SLOW_P95_MS: f64 = 500.0;

/// Where the backends are, from the stack's .env and compose services.
pub struct Env {
    pub client: reqwest::Client,
    pub prometheus: String,
    pub tempo: Option<String>,
    pub jaeger: Option<String>,
    pub alertmanager: Option<String>,
    pub stack_dir: std::path::PathBuf,
    pub web: String,
    pub health_port: u16,
    pub window: Duration,
}

impl Env {
    pub fn new(stack: &Project, workshop: &Project, services: &[String], window: Duration) -> Env {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let has = |s: &str| services.iter().any(|x| x == s);
        let url = |key: &str, default: u16| format!("http://127.0.0.1:{}", stack.port(key, default));
        Env {
            client: reqwest::Client::builder().build().expect("an HTTP client"),
            prometheus: url("PROMETHEUS_PORT", 9090),
            tempo: has("tempo").then(|| url("TEMPO_PORT", 3200)),
            jaeger: has("jaeger").then(|| url("JAEGER_UI_PORT", 16686)),
            alertmanager: has("alertmanager").then(|| url("ALERTMANAGER_PORT", 9093)),
            stack_dir: stack.dir.clone(),
            web: super::super::project::web_url(workshop),
            health_port: stack.port("COLLECTOR_HEALTH_PORT", 13133),
            window,
        }
    }

    fn range(&self) -> String {
        format!("{}s", self.window.as_secs().max(30))
    }
}

/// The scenario a step shows (for the diagnosis when it fails).
pub fn expected_scenario(step: &str) -> Option<&'static str> {
    match step {
        "error-burst" | "slow-db" | "bad-deploy" | "downstream-down" => {
            super::super::control::SCENARIOS.iter().map(|(n, _)| *n).find(|n| *n == step)
        }
        "pipeline" => Some("pipeline-stuck"),
        "recover" => Some("baseline"),
        _ => None,
    }
}

/// One probe's result: Some(pass) with a finding, or None (backend absent).
type Probe = (Option<bool>, String);

pub async fn check(env: &Env, step: &str) -> Outcome {
    let probes: Vec<Probe> = match step {
        "setup" => setup(env).await,
        "data-flows" => data_flows(env).await,
        "follow-request" => vec![follow_request(env).await],
        "error-burst" => error_burst(env).await,
        "slow-db" => vec![slow_db(env).await],
        "bad-deploy" => bad_deploy(env).await,
        "downstream-down" => downstream_down(env).await,
        "pipeline" => pipeline(env).await,
        "recover" => vec![recover(env).await],
        "bring-your-own" => vec![bring_your_own(env).await],
        other => vec![(Some(false), format!("no check is defined for step {other}"))],
    };
    let ran: Vec<bool> = probes.iter().filter_map(|(p, _)| *p).collect();
    let verdict = if ran.is_empty() {
        Verdict::NotChecked
    } else if ran.iter().all(|p| *p) {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    let findings = probes
        .into_iter()
        .map(|(p, f)| {
            format!(
                "{} {f}",
                match p {
                    Some(true) => "ok:",
                    Some(false) => "missing:",
                    None => "not checked:",
                }
            )
        })
        .collect();
    Outcome { step: step.to_owned(), verdict, findings, diagnosis: None }
}

async fn prom(env: &Env, q: &str) -> Result<Vec<Sample>, String> {
    backends::promql(&env.client, &env.prometheus, q).await
}

/// A probe that passes when the query's single value is above `min`.
async fn above(env: &Env, what: &str, q: &str, min: f64) -> Probe {
    match prom(env, q).await {
        Ok(v) => {
            let x = v.first().map_or(0.0, |s| s.1);
            (Some(x > min), format!("{what}: {x:.2} (PromQL `{q}`)"))
        }
        Err(e) => (Some(false), format!("{what}: Prometheus query failed: {e}")),
    }
}

/// Every wanted label value has a series above zero.
async fn each_above_zero(env: &Env, what: &str, q: &str, label: &str, wanted: &[&str]) -> Probe {
    match prom(env, q).await {
        Ok(v) => {
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|w| !v.iter().any(|(l, x)| l.get(label).map(String::as_str) == Some(*w) && *x > 0.0))
                .collect();
            let text =
                if missing.is_empty() { "all present".to_owned() } else { format!("none from {}", missing.join(", ")) };
            (Some(missing.is_empty()), format!("{what}: {text} (PromQL `{q}`)"))
        }
        Err(e) => (Some(false), format!("{what}: Prometheus query failed: {e}")),
    }
}

/// A probe on the failures tables: passes when the count is above zero.
async fn failures_count(env: &Env, what: &str, sql: &str, params: Vec<mysql_async::Value>) -> Probe {
    let conn = match failures::connection(None, &env.stack_dir) {
        Ok(c) => c,
        Err(e) => return (Some(false), format!("{what}: {e}")),
    };
    let result = async {
        let mut db = mysql_async::Conn::new(conn.opts.clone()).await?;
        let n: Option<u64> = db.exec_first(sql, params).await?;
        let _ = db.disconnect().await;
        Ok::<u64, mysql_async::Error>(n.unwrap_or(0))
    }
    .await;
    match result {
        Ok(n) => (Some(n > 0), format!("{what}: {n} rows (SQL on {})", conn.database)),
        Err(e) => (Some(false), format!("{what}: MariaDB at {} failed: {e}", conn.address)),
    }
}

fn secs(env: &Env) -> mysql_async::Value {
    mysql_async::Value::UInt(env.window.as_secs().max(30))
}

async fn setup(env: &Env) -> Vec<Probe> {
    let health = match engine_http::get(&env.client, env.health_port, "/").await {
        Ok((200, _)) => (Some(true), "collector health check answers 200".to_owned()),
        Ok((c, _)) => (Some(false), format!("collector health check answers {c}")),
        Err(e) => (Some(false), format!("collector health check unreachable: {e}")),
    };
    let ready = |name: &'static str, url: String| async move {
        match env.client.get(&url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => (Some(true), format!("{name} answers at {url}")),
            Ok(r) => (Some(false), format!("{name} at {url} answers {}", r.status())),
            Err(e) => (Some(false), format!("{name} unreachable at {url}: {e}")),
        }
    };
    let db = failures_count(env, "MariaDB reachable with the collector's user", "SELECT 1", vec![]).await;
    vec![
        health,
        ready("Prometheus", format!("{}/-/ready", env.prometheus)).await,
        db,
        ready("the workshop's web front", format!("{}/healthz", env.web)).await,
    ]
}

async fn data_flows(env: &Env) -> Vec<Probe> {
    let r = env.range();
    vec![
        each_above_zero(
            env,
            "spans per service (spanmetrics)",
            &format!("sum by (service_name) (increase({CALLS}{{service_name=~\"web|orders|payments\"}}[{r}]))"),
            "service_name",
            &["web", "orders", "payments"],
        )
        .await,
        each_above_zero(
            env,
            "the apps' own http.server.request.duration histograms (remote write)",
            &format!("sum by (job) (increase(http_server_request_duration_seconds_count{{job=~\"web|orders|payments\"}}[{r}]))"),
            "job",
            &["web", "orders", "payments"],
        )
        .await,
        above(env, "orders placed (business counter)", &format!("sum(increase(orders_placed_total[{r}]))"), 0.0).await,
    ]
}

async fn follow_request(env: &Env) -> Probe {
    let q = r#"{ resource.service.name = "web" && span.http.route = "/checkout" } >> { resource.service.name = "payments" }"#;
    if let Some(tempo) = &env.tempo {
        return match backends::tempo_search(&env.client, tempo, q).await {
            Ok(hits) => (
                Some(!hits.is_empty()),
                format!("Tempo: {} checkout traces reach payments (TraceQL `{q}`)", hits.len()),
            ),
            Err(e) => (Some(false), format!("Tempo search failed: {e}")),
        };
    }
    if let Some(jaeger) = &env.jaeger {
        return match backends::jaeger_errors(&env.client, jaeger, "payments").await {
            Ok(hits) => {
                let from_web = hits.iter().filter(|h| h.root_service == "web").count();
                (Some(from_web > 0), format!("Jaeger: {from_web} traces start at web and reach payments"))
            }
            Err(e) => (Some(false), format!("Jaeger search failed: {e}")),
        };
    }
    (None, "no trace backend (Tempo or Jaeger) in this stack".to_owned())
}

async fn error_burst(env: &Env) -> Vec<Probe> {
    let r = env.range();
    let mut probes = vec![
        above(env, "payments error spans", &format!("sum(increase({CALLS}{{service_name=\"payments\",status_code=\"{ERROR}\"}}[{r}]))"), 0.0).await,
        failures_count(
            env,
            "failed payments in failed_spans with exception CardProcessorError",
            "SELECT COUNT(*) FROM failed_spans WHERE service_name = 'payments' AND exception_type = 'CardProcessorError' \
             AND start_time >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND",
            vec![secs(env)],
        )
        .await,
    ];
    probes.push(match &env.alertmanager {
        Some(am) => match backends::alerts(&env.client, am).await {
            Ok(alerts) => {
                let hit = alerts
                    .iter()
                    .find(|a| a.state == "active" && a.labels.get("service").map(String::as_str) == Some("payments"));
                let link = hit.and_then(|a| a.annotations.get("trace_url").cloned()).unwrap_or_default();
                (
                    Some(hit.is_some() && !link.is_empty()),
                    format!("Alertmanager: active alert for payments with trace link {link:?}"),
                )
            }
            Err(e) => (Some(false), format!("Alertmanager failed: {e}")),
        },
        None => (None, "no Alertmanager in this stack (`stackctl init --with alertmanager`)".to_owned()),
    });
    probes
}

async fn slow_db(env: &Env) -> Probe {
    let q = format!(
        "histogram_quantile(0.95, sum by (le) (rate({DURATION}{{service_name=\"orders\",span_kind=\"SPAN_KIND_SERVER\"}}[{}])))",
        env.range()
    );
    above(env, &format!("orders API p95 in ms (slow above {SLOW_P95_MS})"), &q, SLOW_P95_MS).await
}

async fn bad_deploy(env: &Env) -> Vec<Probe> {
    let window = vec![secs(env)];
    let v2 = failures_count(
        env,
        "failed payments from service.version 2.0.0",
        "SELECT COUNT(*) FROM failed_spans WHERE service_name = 'payments' AND start_time >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND \
         AND JSON_UNQUOTE(JSON_EXTRACT(resource_attributes, '$.\"service.version\"')) = '2.0.0'",
        window.clone(),
    )
    .await;
    let (others, text) = failures_count(
        env,
        "failed payments from any other version",
        "SELECT COUNT(*) FROM failed_spans WHERE service_name = 'payments' AND start_time >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND \
         AND COALESCE(JSON_UNQUOTE(JSON_EXTRACT(resource_attributes, '$.\"service.version\"')), '') <> '2.0.0'",
        window,
    )
    .await;
    // here the probe passes when there are none
    vec![v2, (others.map(|found| !found), text)]
}

async fn downstream_down(env: &Env) -> Vec<Probe> {
    vec![
        above(
            env,
            "orders' failed calls to payments",
            &format!(
                "sum(increase({CALLS}{{service_name=\"orders\",span_kind=\"SPAN_KIND_CLIENT\",status_code=\"{ERROR}\"}}[{}]))",
                env.range()
            ),
            0.0,
        )
        .await,
        failures_count(
            env,
            "orders spans failing with a connection error",
            "SELECT COUNT(*) FROM failed_spans WHERE service_name = 'orders' AND start_time >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND \
             AND (exception_type LIKE '%Connection%' OR status_message LIKE '%unreachable%')",
            vec![secs(env)],
        )
        .await,
    ]
}

async fn pipeline(env: &Env) -> Vec<Probe> {
    // one run a minute: look back at least three
    let r = format!("{}s", env.window.as_secs().max(180));
    vec![
        above(
            env,
            "transform retries",
            &format!("sum(increase(pipeline_task_retries_total{{task=\"transform\"}}[{r}]))"),
            0.0,
        )
        .await,
        above(
            env,
            "failed pipeline runs",
            &format!("sum(increase(pipeline_runs_total{{status=\"failed\"}}[{r}]))"),
            0.0,
        )
        .await,
        failures_count(
            env,
            "failed transform attempts in failed_spans",
            "SELECT COUNT(*) FROM failed_spans WHERE service_name = 'pipeline' AND span_name = 'transform' \
             AND start_time >= UTC_TIMESTAMP(6) - INTERVAL ? SECOND",
            vec![mysql_async::Value::UInt(env.window.as_secs().max(180))],
        )
        .await,
    ]
}

async fn recover(env: &Env) -> Probe {
    let sel = "service_name=~\"web|orders|payments\"";
    let q = format!(
        "(sum(rate({CALLS}{{{sel},status_code=\"{ERROR}\"}}[1m])) or vector(0)) / sum(rate({CALLS}{{{sel}}}[1m]))"
    );
    match prom(env, &q).await {
        Ok(v) => match v.first() {
            Some((_, ratio)) => {
                (Some(*ratio < 0.01), format!("error ratio over the last minute: {:.2}% (PromQL `{q}`)", ratio * 100.0))
            }
            None => (Some(false), "no traffic in the last minute; run `stackctl workshop load`".to_owned()),
        },
        Err(e) => (Some(false), format!("Prometheus query failed: {e}")),
    }
}

async fn bring_your_own(env: &Env) -> Probe {
    let q = format!("sum by (service_name) (increase({CALLS}[{}]))", env.range());
    match prom(env, &q).await {
        Ok(v) => {
            let own: Vec<String> = v
                .iter()
                .filter(|(l, x)| {
                    *x > 0.0 && l.get("service_name").is_some_and(|s| !WORKSHOP_SERVICES.contains(&s.as_str()))
                })
                .filter_map(|(l, _)| l.get("service_name").cloned())
                .collect();
            (Some(!own.is_empty()), format!("services besides the workshop's: {own:?} (PromQL `{q}`)"))
        }
        Err(e) => (Some(false), format!("Prometheus query failed: {e}")),
    }
}
