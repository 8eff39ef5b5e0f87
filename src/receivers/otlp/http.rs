//! OTLP/HTTP: `POST /v1/{traces,metrics,logs}` with protobuf or JSON bodies,
//! gzip/deflate/zstd encodings, and `max_request_body_size` enforced on the
//! wire and again while inflating, so a compression bomb is refused early.
//! Errors are `google.rpc.Status` bodies in the request's encoding.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ingest::Ingest;
use crate::component::ConsumeError;
use crate::otlp::{self, PartialSuccess};
use crate::receivers::http_server::{self, BodyError, CorsConfig};
use crate::runtime::bind;
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub endpoint: String,
    pub max_request_body_size: usize,
    pub traces_url_path: String,
    pub metrics_url_path: String,
    pub logs_url_path: String,
    pub cors: Option<CorsConfig>,
    pub include_metadata: bool,
    pub compression_algorithms: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub response_headers: std::collections::BTreeMap<String, String>,
    pub tls: Option<crate::tls::TlsServerConfig>,
    pub auth: Option<crate::runtime::auth::AuthSettings>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            endpoint: "localhost:4318".into(),
            max_request_body_size: 20 * 1024 * 1024,
            traces_url_path: "/v1/traces".into(),
            metrics_url_path: "/v1/metrics".into(),
            logs_url_path: "/v1/logs".into(),
            cors: None,
            include_metadata: false,
            compression_algorithms: None,
            response_headers: Default::default(),
            tls: None,
            auth: None,
        }
    }
}

#[derive(Clone)]
struct Route {
    ingest: Ingest,
    signal: Signal,
    max_body: usize,
    response_headers: HeaderMap,
    auth: Option<std::sync::Arc<dyn crate::runtime::auth::ServerAuth>>,
}

pub(super) async fn serve(
    cfg: &HttpConfig,
    ingest: Ingest,
    auth: Option<std::sync::Arc<dyn crate::runtime::auth::ServerAuth>>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let tls = cfg.tls.as_ref().map(|t| t.server_config(&[b"h2", b"http/1.1"])).transpose()?;
    let listener = bind(&cfg.endpoint, "OTLP/HTTP").await?;
    let mut response_headers = HeaderMap::new();
    for (k, v) in &cfg.response_headers {
        response_headers.insert(header::HeaderName::from_bytes(k.as_bytes())?, HeaderValue::from_str(v)?);
    }
    let mut router = axum::Router::new();
    for (signal, path) in [
        (Signal::Traces, &cfg.traces_url_path),
        (Signal::Metrics, &cfg.metrics_url_path),
        (Signal::Logs, &cfg.logs_url_path),
    ] {
        if !ingest.accepts(signal) {
            continue;
        }
        let route = Route {
            ingest: ingest.clone(),
            signal,
            max_body: cfg.max_request_body_size,
            response_headers: response_headers.clone(),
            auth: auth.clone(),
        };
        router = router.route(
            path,
            post(handle).with_state(route).fallback(|| async {
                error_response(StatusCode::METHOD_NOT_ALLOWED, false, "method not allowed: OTLP/HTTP takes POST")
            }),
        );
    }
    let router = router.fallback(|| async {
        error_response(
            StatusCode::NOT_FOUND,
            false,
            "not found: OTLP/HTTP paths are /v1/traces, /v1/metrics and /v1/logs",
        )
    });
    let router = match cfg.cors.as_ref().and_then(CorsConfig::layer) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    tracing::info!(endpoint = %cfg.endpoint, tls = tls.is_some(), "OTLP/HTTP receiver listening");
    http_server::serve(listener, tls, router, stop, "OTLP/HTTP", cfg.endpoint.clone())
}

#[derive(Clone, Copy)]
enum Format {
    Protobuf,
    Json,
}

async fn handle(State(route): State<Route>, headers: HeaderMap, body: Body) -> Response {
    // credentials are checked before a byte of the body is read
    if let Some(auth) = &route.auth {
        if let Err(message) = auth.authenticate(&headers) {
            let json = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            return error_response(StatusCode::UNAUTHORIZED, json, &message);
        }
    }
    // the declared body size is admitted before reading, the decoded size after
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let json_request = headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let wire = match route.ingest.admission.admit(declared.unwrap_or(0).min(route.max_body)) {
        Ok(permit) => permit,
        Err(refused) => return refused_response(refused, json_request),
    };
    let (batch, json) = match decode_request(route.signal, &headers, body, route.max_body).await {
        Ok(decoded) => decoded,
        Err(refused) => return refused,
    };
    // the body (and any inflated or JSON copy) is gone: only the batch is held
    let _decoded = match route.ingest.admission.readmit(wire, batch.encoded_len()) {
        Ok(permit) => permit,
        Err(refused) => return refused_response(refused, json),
    };
    let mut response = match route.ingest.push(batch).await {
        Ok(()) => success(route.signal, json),
        Err(e @ ConsumeError::Refused { .. }) => refused_response(e, json),
        Err(ConsumeError::Permanent(reason)) => error_response(StatusCode::INTERNAL_SERVER_ERROR, json, &reason),
    };
    response.headers_mut().extend(route.response_headers.clone());
    response
}

/// Reads one OTLP/HTTP request body as the receiver does (content type,
/// content encoding, size limit, inflating, decoding) without a network: the
/// batch and whether the request was JSON, or the error response to answer.
/// Public so the `http_handler` fuzz target drives the real request path.
pub async fn decode_request(
    signal: Signal,
    headers: &HeaderMap,
    body: Body,
    max_body: usize,
) -> Result<(Batch, bool), Response> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let format = match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Format::Protobuf,
        "application/json" => Format::Json,
        _ => {
            let msg =
                format!("unsupported content type {content_type:?}: use application/x-protobuf or application/json");
            return Err(error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, false, &msg));
        }
    };
    let json = matches!(format, Format::Json);
    let body = match http_server::content_encoding(headers) {
        Ok(encoding) => http_server::read_body(&encoding, body, max_body).await,
        Err(e) => Err(e),
    };
    let body = match body {
        Ok(b) => b,
        Err(e @ BodyError::UnsupportedEncoding(_)) => {
            return Err(error_response(StatusCode::UNSUPPORTED_MEDIA_TYPE, json, &e.to_string()))
        }
        Err(BodyError::TooLarge(max)) => return Err(too_large(json, max)),
        Err(e @ BodyError::Unreadable(_)) => return Err(error_response(StatusCode::BAD_REQUEST, json, &e.to_string())),
    };
    let batch = match format {
        Format::Protobuf => Batch::from_encoded(signal, body).map_err(|e| e.to_string()),
        Format::Json => otlp::decode_json(signal, &body).map_err(|e| format!("invalid OTLP/JSON: {e}")),
    };
    let batch = match batch {
        Ok(b) => b,
        Err(msg) => return Err(error_response(StatusCode::BAD_REQUEST, json, &msg)),
    };
    Ok((batch, json))
}

fn refused_response(e: ConsumeError, json: bool) -> Response {
    let ConsumeError::Refused { reason, retry_after } = e else {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, json, &e.to_string());
    };
    let mut r = error_response(StatusCode::SERVICE_UNAVAILABLE, json, &reason);
    let secs = retry_after.unwrap_or(Duration::from_secs(1)).as_secs().max(1);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

fn too_large(json: bool, max: usize) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        json,
        &format!("request body is larger than max_request_body_size ({max} bytes)"),
    )
}

fn success(signal: Signal, json: bool) -> Response {
    let ok = PartialSuccess::default();
    if json {
        ([(header::CONTENT_TYPE, "application/json")], ok.encode_response_json(signal)).into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/x-protobuf")], ok.encode_response()).into_response()
    }
}

/// A `google.rpc.Status` body with the gRPC code matching the HTTP status.
fn error_response(status: StatusCode, json: bool, message: &str) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => tonic::Code::InvalidArgument,
        StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => tonic::Code::Unimplemented,
        StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::ResourceExhausted,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => tonic::Code::InvalidArgument,
        StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable,
        _ => tonic::Code::Internal,
    } as i32;
    if json {
        (status, [(header::CONTENT_TYPE, "application/json")], otlp::status_json(code, message)).into_response()
    } else {
        (status, [(header::CONTENT_TYPE, "application/x-protobuf")], otlp::status_proto(code, message)).into_response()
    }
}
