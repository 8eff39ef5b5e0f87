//! The zipkin receiver's HTTP server: `POST /api/v1/spans` and
//! `/api/v2/spans`, bodies read through the shared `http_server` pieces
//! (size limit, gzip/deflate/zstd), answered 202 Accepted as Zipkin does.
//! Errors are plain-text sentences: 400 for bodies that do not parse, 415
//! for content types and encodings not taken, 503 with Retry-After when the
//! pipeline refuses for now.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{json, proto, translate, v1, ZipkinReceiverConfig};
use crate::component::{BuildContext, ConsumeError, Consumer};
use crate::otlp::data::Decoded;
use crate::receivers::http_server::{self, BodyError, CorsConfig};
use crate::runtime::ServerAuth;
use crate::signal::{Batch, Signal};
use crate::telemetry::ReceiverMetrics;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

#[derive(Clone)]
struct Route {
    version: Version,
    traces: Arc<dyn Consumer>,
    /// by transport, as upstream: http_v1_json, http_v2_json, http_v2_proto
    metrics: Arc<[ReceiverMetrics; 3]>,
    admission: crate::runtime::Admission,
    parse_string_tags: bool,
    max_body: usize,
    response_headers: HeaderMap,
    auth: Option<Arc<dyn ServerAuth>>,
}

pub(super) async fn serve(
    cfg: &ZipkinReceiverConfig,
    ctx: &BuildContext,
    traces: Arc<dyn Consumer>,
    auth: Option<Arc<dyn ServerAuth>>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let tls = cfg.tls.as_ref().map(|t| t.server_config(&[b"h2", b"http/1.1"])).transpose()?;
    let listener = crate::runtime::bind(&cfg.endpoint, "the zipkin receiver").await?;
    let mut response_headers = HeaderMap::new();
    for (k, v) in &cfg.response_headers {
        response_headers.insert(header::HeaderName::from_bytes(k.as_bytes())?, HeaderValue::from_str(v)?);
    }
    let id = ctx.id.to_string();
    let metrics =
        ["http_v1_json", "http_v2_json", "http_v2_proto"].map(|t| ctx.telemetry.receiver(Signal::Traces, &id, t));
    let route = |version| Route {
        version,
        traces: traces.clone(),
        metrics: Arc::new(metrics.clone()),
        admission: ctx.admission.clone(),
        parse_string_tags: cfg.parse_string_tags,
        max_body: cfg.max_request_body_size,
        response_headers: response_headers.clone(),
        auth: auth.clone(),
    };
    let not_post =
        || async { text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed: Zipkin spans are sent with POST") };
    let router = axum::Router::new()
        .route("/api/v1/spans", post(handle).with_state(route(Version::V1)).fallback(not_post))
        .route("/api/v2/spans", post(handle).with_state(route(Version::V2)).fallback(not_post))
        .fallback(|| async {
            text(StatusCode::NOT_FOUND, "not found: the zipkin receiver takes POST /api/v2/spans and /api/v1/spans")
        });
    let router = match cfg.cors.as_ref().and_then(CorsConfig::layer) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    tracing::info!(endpoint = %cfg.endpoint, tls = tls.is_some(), "zipkin receiver listening");
    http_server::serve(listener, tls, router, stop, "zipkin receiver", cfg.endpoint.clone())
}

fn text(status: StatusCode, message: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

#[derive(Clone, Copy)]
enum Format {
    V1Json = 0,
    V2Json = 1,
    V2Proto = 2,
}

/// Which decoder a request's Content-Type asks for; no Content-Type reads as
/// JSON, as upstream's receiver does.
/// `Err` is the 415 sentence.
fn format(version: Version, headers: &HeaderMap) -> Result<Format, String> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match (version, media.as_str()) {
        (Version::V1, "" | "application/json") => Ok(Format::V1Json),
        (Version::V2, "" | "application/json") => Ok(Format::V2Json),
        (Version::V2, "application/x-protobuf" | "application/protobuf") => Ok(Format::V2Proto),
        (Version::V1, "application/x-thrift") => Err("Zipkin v1 Thrift is not supported: send v1 JSON (application/json) to /api/v1/spans, \
             or better v2 JSON or protobuf to /api/v2/spans"
            .to_owned()),
        (Version::V1, _) => {
            Err(format!("unsupported content type {content_type:?} for /api/v1/spans: use application/json"))
        }
        (Version::V2, _) => Err(format!(
            "unsupported content type {content_type:?} for /api/v2/spans: use application/json or application/x-protobuf"
        )),
    }
}

async fn handle(State(route): State<Route>, headers: HeaderMap, body: Body) -> Response {
    let mut response = answer(&route, &headers, body).await;
    response.headers_mut().extend(route.response_headers.clone());
    response
}

async fn answer(route: &Route, headers: &HeaderMap, body: Body) -> Response {
    // credentials are checked before a byte of the body is read
    if let Some(auth) = &route.auth {
        if let Err(message) = auth.authenticate(headers) {
            return text(StatusCode::UNAUTHORIZED, &message);
        }
    }
    let format = match format(route.version, headers) {
        Ok(f) => f,
        Err(message) => return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, &message),
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let _wire = match route.admission.admit(declared.unwrap_or(0).min(route.max_body)) {
        Ok(permit) => permit,
        Err(refused) => return refused_response(refused),
    };
    let body = match http_server::content_encoding(headers) {
        Ok(encoding) => http_server::read_body(&encoding, body, route.max_body).await,
        Err(e) => Err(e),
    };
    let body = match body {
        Ok(b) => b,
        Err(e @ BodyError::UnsupportedEncoding(_)) => return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, &e.to_string()),
        Err(e @ BodyError::TooLarge(_)) => return text(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
        Err(e @ BodyError::Unreadable(_)) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let debug = headers.get("x-b3-flags").is_some_and(|v| v.as_bytes() == b"1");
    let resource_spans = match decode(format, &body, debug, route.parse_string_tags) {
        Ok(rs) => rs,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let batch = Batch::from_decoded(Decoded::Traces(resource_spans));
    let items = batch.items() as u64;
    if items == 0 {
        return StatusCode::ACCEPTED.into_response();
    }
    let _decoded = match route.admission.admit(batch.encoded_len()) {
        Ok(permit) => permit,
        Err(refused) => return refused_response(refused),
    };
    let metrics = &route.metrics[format as usize];
    match route.traces.consume(batch).await {
        Ok(()) => {
            metrics.accepted.inc_by(items);
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => {
            metrics.refused.inc_by(items);
            refused_response(e)
        }
    }
}

/// Parses a body in its format and maps it to OTLP; `Err` is the 400 sentence.
fn decode(format: Format, body: &[u8], debug: bool, parse_string_tags: bool) -> Result<Vec<ResourceSpans>, String> {
    match format {
        Format::V1Json => v1::to_otlp(body, parse_string_tags),
        Format::V2Json => translate::to_otlp(json::parse(body)?, parse_string_tags),
        Format::V2Proto => translate::to_otlp(proto::parse(body, debug)?, parse_string_tags),
    }
}

fn refused_response(e: ConsumeError) -> Response {
    match e {
        ConsumeError::Refused { reason, retry_after } => {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, &reason);
            let secs = retry_after.unwrap_or(Duration::from_secs(1)).as_secs().max(1);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        ConsumeError::Permanent(reason) => text(StatusCode::INTERNAL_SERVER_ERROR, &reason),
    }
}
