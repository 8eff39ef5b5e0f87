//! HTTP serving pieces every HTTP receiver shares (otelcol's confighttp
//! server side; the listener comes from `runtime::bind`): TLS or plain serving with graceful
//! shutdown, the `cors` section, and reading a request body with
//! `max_request_body_size` enforced on the wire and again while inflating
//! gzip/deflate/zstd, so a compression bomb is refused early.

/// Why `include_metadata` is refused on every receiver.
pub const INCLUDE_METADATA: &str =
    "is not supported: client metadata is not carried through the pipeline here, and no \
     otelstack component reads it (batch metadata_keys, headers_setter); remove include_metadata";

/// Why `compression_algorithms` is refused on the HTTP receivers.
pub const COMPRESSION_ALGORITHMS: &str = "is not supported: the receiver always accepts uncompressed, gzip, deflate \
     and zstd bodies and refuses other encodings with 415; remove compression_algorithms";

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use futures::future::Either;
use http_body_util::BodyExt;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Serves `router` on a bound listener, behind TLS when `tls` is set, until
/// `stop` is cancelled; in-flight requests finish first.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    router: axum::Router,
    stop: CancellationToken,
    what: &'static str,
    endpoint: String,
) -> anyhow::Result<JoinHandle<()>> {
    let listener = match tls {
        Some(config) => Either::Left(crate::tls::TlsListener::new(listener, config, stop.clone())?),
        None => Either::Right(listener),
    };
    Ok(tokio::spawn(async move {
        let served = match listener {
            Either::Left(tls) => axum::serve(tls, router).with_graceful_shutdown(stop.cancelled_owned()).await,
            Either::Right(tcp) => axum::serve(tcp, router).with_graceful_shutdown(stop.cancelled_owned()).await,
        };
        if let Err(e) = served {
            tracing::error!(endpoint = %endpoint, error = %e, "{what} server stopped with an error");
        }
    }))
}

/// otelcol's confighttp `cors` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsConfig {
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub max_age: Option<u64>,
}

impl CorsConfig {
    /// The layer to add, or `None` when no origin is allowed (as otelcol).
    pub(crate) fn layer(&self) -> Option<CorsLayer> {
        (!self.allowed_origins.is_empty()).then(|| cors_layer(self))
    }
}

fn cors_layer(cfg: &CorsConfig) -> CorsLayer {
    let patterns: Vec<regex::Regex> = cfg
        .allowed_origins
        .iter()
        .filter_map(|o| regex::Regex::new(&format!("^{}$", regex::escape(o).replace(r"\*", ".*"))).ok())
        .collect();
    let mut headers: Vec<header::HeaderName> = vec![
        header::CONTENT_TYPE,
        header::CONTENT_ENCODING,
        header::ACCEPT,
        header::HeaderName::from_static("x-requested-with"),
    ];
    headers.extend(cfg.allowed_headers.iter().filter_map(|h| header::HeaderName::from_bytes(h.as_bytes()).ok()));
    let mut layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origin.to_str().is_ok_and(|o| patterns.iter().any(|p| p.is_match(o)))
        }))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers(headers);
    if let Some(age) = cfg.max_age {
        layer = layer.max_age(Duration::from_secs(age));
    }
    layer
}

/// Why a body could not be read; each maps to one HTTP status.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// 415: a Content-Encoding we do not inflate
    UnsupportedEncoding(String),
    /// 413: over `max_request_body_size`, on the wire or inflated
    TooLarge(usize),
    /// 400: the connection or the compressed stream broke
    Unreadable(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::UnsupportedEncoding(e) => {
                write!(f, "unsupported content encoding {e:?}: use gzip, deflate, zstd or none")
            }
            BodyError::TooLarge(max) => write!(f, "request body is larger than max_request_body_size ({max} bytes)"),
            BodyError::Unreadable(e) => f.write_str(e),
        }
    }
}

/// The request's Content-Encoding, lower case, checked against what
/// [`read_body`] inflates.
pub(crate) fn content_encoding(headers: &HeaderMap) -> Result<String, BodyError> {
    let encoding =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(encoding.as_str(), "" | "identity" | "none" | "gzip" | "x-gzip" | "deflate" | "zlib" | "zstd") {
        return Err(BodyError::UnsupportedEncoding(encoding));
    }
    Ok(encoding)
}

/// Reads the whole body (at most `max` bytes) and inflates it per
/// `encoding` (from [`content_encoding`]), again at most `max` bytes.
pub(crate) async fn read_body(encoding: &str, body: Body, max: usize) -> Result<bytes::Bytes, BodyError> {
    let raw = match http_body_util::Limited::new(body, max).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(BodyError::TooLarge(max));
        }
        Err(e) => return Err(BodyError::Unreadable(format!("cannot read the request body: {e}"))),
    };
    match inflate(encoding, raw, max).await {
        Ok(b) => Ok(b),
        Err(Inflate::TooLarge) => Err(BodyError::TooLarge(max)),
        Err(Inflate::Corrupt(e)) => Err(BodyError::Unreadable(format!("cannot decompress the {encoding} body: {e}"))),
    }
}

enum Inflate {
    TooLarge,
    Corrupt(std::io::Error),
}

/// Decompresses with a cap on the output; large bodies inflate on the
/// blocking pool so the reactor keeps serving.
async fn inflate(encoding: &str, raw: bytes::Bytes, max: usize) -> Result<bytes::Bytes, Inflate> {
    if matches!(encoding, "" | "identity" | "none") {
        return Ok(raw);
    }
    let encoding = encoding.to_owned();
    let small = raw.len() < 64 * 1024;
    let work = move || -> Result<bytes::Bytes, Inflate> {
        let reader: Box<dyn Read> = match encoding.as_str() {
            "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
            "deflate" | "zlib" => {
                // HTTP "deflate" is zlib-wrapped; some clients send raw deflate
                if raw.len() >= 2 && (u16::from(raw[0]) << 8 | u16::from(raw[1])) % 31 == 0 && raw[0] & 0x0f == 8 {
                    Box::new(flate2::read::ZlibDecoder::new(&raw[..]))
                } else {
                    Box::new(flate2::read::DeflateDecoder::new(&raw[..]))
                }
            }
            _ => Box::new(zstd::stream::read::Decoder::new(&raw[..]).map_err(Inflate::Corrupt)?),
        };
        let mut out = Vec::with_capacity((raw.len() * 4).min(max));
        reader.take(max as u64 + 1).read_to_end(&mut out).map_err(Inflate::Corrupt)?;
        if out.len() > max {
            return Err(Inflate::TooLarge);
        }
        // the batch keeps this buffer: give back what the guess over-reserved
        out.shrink_to_fit();
        Ok(bytes::Bytes::from(out))
    };
    if small {
        return work();
    }
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| Err(Inflate::Corrupt(std::io::Error::other(e))))
}
