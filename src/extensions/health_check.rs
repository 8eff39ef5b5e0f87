//! The `health_check` extension: `GET <path>` answers 200 while every
//! pipeline runs and 503 before start and during shutdown, with otelcol's
//! JSON body.

use std::time::SystemTime;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use crate::component::{
    parse_section, BuildContext, BuildResult, ExtensionConfig, Factory, Invalid, Running, Validate,
};
use crate::config::types::split_host_port;
use crate::runtime::{serve_http, Health, TaskGroup};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthCheckConfig {
    pub endpoint: String,
    pub path: String,
    pub response_body: Option<ResponseBody>,
    /// deprecated and not functional in otelcol: refused when enabled
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
        let enabled = self.check_collector_pipeline.as_ref().and_then(|c| c.get("enabled"));
        if enabled.is_some_and(|e| e != &Value::Bool(false)) {
            return Err(Invalid::at(
                "check_collector_pipeline.enabled",
                "is not supported: otelcol deprecated it and never made it work; the endpoint already answers 503 \
                 while a component reports a fatal error. Remove check_collector_pipeline",
            ));
        }
        if self.cors.is_some() {
            return Err(Invalid::at("cors", "CORS on the health endpoint is not supported; remove cors"));
        }
        Ok(())
    }
}

impl ExtensionConfig for HealthCheckConfig {
    fn start(&self, ctx: BuildContext, health: Health) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let listener = crate::runtime::bind(&self.endpoint, "the health_check extension").await?;
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
            tracing::info!(endpoint = %self.endpoint, path = %self.path, "health_check extension listening");
            let group = TaskGroup::new(format!("extension {}", ctx.id));
            serve_http(&group, listener, router);
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}
