//! The `health_check` extension: `GET <path>` answers 200 while every
//! pipeline runs and 503 before start and during shutdown, with otelcol's
//! JSON body.

use std::time::SystemTime;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::component::{
    parse_section, BuildContext, BuildResult, ExtensionConfig, Factory, Invalid, Running, Validate,
};
use crate::config::types::split_host_port;
use crate::service::Health;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    pub endpoint: String,
    pub path: String,
    pub response_body: Option<ResponseBody>,
    /// accepted for compatibility (deprecated in otelcol)
    pub check_collector_pipeline: Option<Value>,
    pub tls: Option<Value>,
    pub cors: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    pub healthy: String,
    pub unhealthy: String,
}

impl Default for HealthCheckConfig {
    fn default() -> Self {
        HealthCheckConfig {
            endpoint: "localhost:13133".into(),
            path: "/".into(),
            response_body: None,
            check_collector_pipeline: None,
            tls: None,
            cors: None,
        }
    }
}

pub fn factory() -> Factory<dyn ExtensionConfig> {
    Factory {
        type_name: "health_check",
        signals: &[],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<HealthCheckConfig>(v)?)),
    }
}

impl Validate for HealthCheckConfig {
    fn validate(&self) -> Result<(), Invalid> {
        split_host_port(&self.endpoint).map_err(|e| Invalid::at("endpoint", e))?;
        if !self.path.starts_with('/') {
            return Err(Invalid::at("path", "must start with '/'"));
        }
        if self.tls.is_some() {
            return Err(Invalid::at("tls", "TLS on the health endpoint is not supported"));
        }
        Ok(())
    }
}

impl ExtensionConfig for HealthCheckConfig {
    fn start(&self, _ctx: BuildContext, health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let listener = crate::receivers::http_server::bind(&self.endpoint, "the health_check extension").await?;
            let since = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
            let body = self.response_body.clone();
            let handler = move || {
                let (health, since, body) = (health.clone(), since.clone(), body.clone());
                async move {
                    let ok = health.is_ready();
                    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                    let text = match (&body, ok) {
                        (Some(b), true) => b.healthy.clone(),
                        (Some(b), false) => b.unhealthy.clone(),
                        (None, _) => serde_json::json!({
                            "status": if ok { "Server available" } else { "Server not available" },
                            "upSince": since,
                            "uptime": format!("{:.3}s", health.uptime().as_secs_f64()),
                        })
                        .to_string(),
                    };
                    (status, [(axum::http::header::CONTENT_TYPE, "application/json")], text).into_response()
                }
            };
            let router = axum::Router::new().route(&self.path, axum::routing::get(handler));
            let stop = CancellationToken::new();
            let token = stop.clone();
            tracing::info!(endpoint = %self.endpoint, path = %self.path, "health_check extension listening");
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, router).with_graceful_shutdown(token.cancelled_owned()).await;
            });
            Ok(Box::new(ServerTask { stop, task: std::sync::Mutex::new(Some(task)) }) as Box<dyn Running>)
        })
    }
}

/// A background HTTP server stopped by a token.
pub struct ServerTask {
    pub stop: CancellationToken,
    pub task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Running for ServerTask {
    fn shutdown(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.stop.cancel();
            let task = self.task.lock().expect("lock").take();
            if let Some(task) = task {
                let _ = tokio::time::timeout_at(deadline, task).await;
            }
        })
    }
}
