//! The HTTP endpoint that serves self metrics (`/metrics`).

use std::sync::Arc;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::Telemetry;

pub fn router(telemetry: Arc<Telemetry>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let t = telemetry.clone();
            async move {
                ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], t.encode())
                    .into_response()
            }
        }),
    )
}
