//! The workshop's payments service, in Rust: `POST /charge` approves or
//! declines a charge for the orders API. It continues the caller's trace
//! from the W3C `traceparent` header and sends its own server span, the
//! `http.server.request.duration` histogram, a `payments.charges` counter
//! and one log record per charge (with the trace and span ids) over OTLP/HTTP.
//!
//! Scenarios, read from the shared control file on every request:
//! `error-burst` declines a share of charges with a 500 and an exception
//! event; `bad-deploy` makes every charge fail on the instance whose
//! `service.version` is 2.0.0 only.
//!
//! Run: `cargo run --example workshop-payments` (PORT, OTEL_* settings from
//! the environment); `workshop-payments healthcheck` is the container's
//! health check.

mod otlp;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::{span, status, Span, Status};
use otlp::{kv, now_nanos, Exporter};
use serde_json::{json, Value};

/// Share of charges declined under `error-burst`.
const ERROR_BURST_SHARE: f64 = 0.3;

struct App {
    exporter: Exporter,
    version: String,
    scenario_file: String,
}

#[tokio::main]
async fn main() {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        // the compose health check: the runtime image has no curl or wget
        let url = format!("http://127.0.0.1:{}/healthz", env("PORT", "8080"));
        let ok = reqwest::get(&url).await.is_ok_and(|r| r.status().is_success());
        std::process::exit(if ok { 0 } else { 1 });
    }
    let service = env("OTEL_SERVICE_NAME", "payments");
    let mut resource = vec![kv("service.name", service.as_str()), kv("telemetry.sdk.language", "rust")];
    let mut version = "1.0.0".to_owned();
    for pair in env("OTEL_RESOURCE_ATTRIBUTES", "").split(',').filter(|p| !p.is_empty()) {
        if let Some((k, v)) = pair.split_once('=') {
            if k.trim() == "service.version" {
                version = v.trim().to_owned();
            }
            resource.push(kv(k.trim(), v.trim()));
        }
    }
    let endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318");
    let app = Arc::new(App {
        exporter: Exporter::new(&endpoint, resource),
        version,
        scenario_file: env("WORKSHOP_SCENARIO_FILE", "/control/scenario.json"),
    });
    let exporting = app.clone();
    tokio::spawn(async move { exporting.exporter.run().await });
    let router = Router::new()
        .route("/healthz", get(|| async { reply(StatusCode::OK, json!({"status": "ok"})) }))
        .route("/charge", post(charge))
        .with_state(app);
    let port = env("PORT", "8080");
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await.expect("the port is free");
    eprintln!("payments {service} on :{port}, OTLP to {endpoint}");
    axum::serve(listener, router).await.expect("the server runs");
}

/// The active scenario: the control file's `name` until its `until` (unix seconds) passes.
fn scenario(path: &str) -> String {
    let Ok(text) = std::fs::read_to_string(path) else { return "baseline".to_owned() };
    let Ok(doc) = serde_json::from_str::<Value>(&text) else { return "baseline".to_owned() };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    if doc["until"].as_f64().is_some_and(|until| now >= until) {
        return "baseline".to_owned();
    }
    doc["name"].as_str().unwrap_or("baseline").to_owned()
}

/// (trace id, parent span id) from a W3C `traceparent` header, else a new trace.
fn parent(headers: &HeaderMap) -> (Vec<u8>, Vec<u8>) {
    let parsed = headers.get("traceparent").and_then(|v| v.to_str().ok()).and_then(|v| {
        let parts: Vec<&str> = v.split('-').collect();
        match parts.as_slice() {
            [_, t, s, _] if t.len() == 32 && s.len() == 16 => {
                Some((const_hex::decode(t).ok()?, const_hex::decode(s).ok()?))
            }
            _ => None,
        }
    });
    parsed.unwrap_or_else(|| (random_bytes(16), Vec::new()))
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| fastrand::u8(..)).collect()
}

type Reply = (StatusCode, [(&'static str, &'static str); 1], String);

fn reply(code: StatusCode, body: Value) -> Reply {
    (code, [("content-type", "application/json")], body.to_string())
}

async fn charge(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "the body must be JSON: {\"order_id\": 1, \"amount_cents\": 100}"}),
        );
    };
    let started = Instant::now();
    let start = now_nanos();
    let (trace_id, parent_span_id) = parent(&headers);
    let span_id = random_bytes(8);
    let order = body["order_id"].as_i64().unwrap_or(0);
    let amount = body["amount_cents"].as_i64().unwrap_or(0);
    // the card processor's round trip
    tokio::time::sleep(Duration::from_millis(fastrand::u64(15..60))).await;

    let scenario = scenario(&app.scenario_file);
    let failure = match scenario.as_str() {
        "error-burst" if fastrand::f64() < ERROR_BURST_SHARE => {
            Some(("CardProcessorError", format!("card processor declined order {order}: upstream timeout")))
        }
        "bad-deploy" if app.version == "2.0.0" => Some((
            "NullCurrencyError",
            format!("charge for order {order} has no currency: release {} reads a field that 1.x wrote", app.version),
        )),
        _ => None,
    };
    let code: i64 = if failure.is_some() { 500 } else { 200 };
    let end = now_nanos();
    let mut events = Vec::new();
    let mut status = Status::default();
    if let Some((kind, message)) = &failure {
        events.push(span::Event {
            time_unix_nano: end,
            name: "exception".to_owned(),
            attributes: vec![kv("exception.type", *kind), kv("exception.message", message.as_str())],
            ..Default::default()
        });
        status = Status { code: status::StatusCode::Error as i32, message: message.clone() };
    }
    app.exporter.span(Span {
        trace_id: trace_id.clone(),
        span_id: span_id.clone(),
        parent_span_id,
        name: "POST /charge".to_owned(),
        kind: span::SpanKind::Server as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes: vec![
            kv("http.request.method", "POST"),
            kv("http.route", "/charge"),
            kv("url.path", "/charge"),
            kv("http.response.status_code", code),
            kv("order.id", order),
            kv("payment.amount_cents", amount),
        ],
        events,
        status: Some(status),
        ..Default::default()
    });
    let (severity, text, body_text) = match &failure {
        Some((_, m)) => (17, "ERROR", format!("charge failed: {m}")),
        None => (9, "INFO", format!("charged order {order}: {amount} cents")),
    };
    app.exporter.log(LogRecord {
        time_unix_nano: end,
        observed_time_unix_nano: end,
        severity_number: severity,
        severity_text: text.to_owned(),
        body: Some(opentelemetry_proto::tonic::common::v1::AnyValue {
            value: Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(body_text)),
        }),
        attributes: vec![kv("order.id", order)],
        trace_id,
        span_id,
        flags: 1,
        ..Default::default()
    });
    app.exporter.request("POST", "/charge", code, started.elapsed().as_secs_f64());
    app.exporter.charge(if failure.is_some() { "declined" } else { "approved" });
    match failure {
        Some((kind, message)) => {
            reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": kind, "message": message, "scenario": scenario}))
        }
        None => reply(StatusCode::OK, json!({"order_id": order, "status": "approved"})),
    }
}
