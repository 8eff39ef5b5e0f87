//! A unary gRPC call over a tonic `Channel` with framing done here, so the
//! exporter chooses its own compression: tonic compresses gzip at level 6,
//! which costs more CPU than everything else on the export path. We send
//! level-1 gzip (zlib-rs), which otelcol's receivers accept like any gzip.

use std::io::Write;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

/// Compresses a message body with gzip at the fastest level.
pub fn gzip_fast(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4 + 64), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

/// Sends one message and returns the response message. `payload` is the
/// message bytes, already gzip-compressed when `gzip` is true.
pub async fn unary(
    channel: &Channel,
    path: &'static str,
    headers: &http::HeaderMap,
    payload: Bytes,
    gzip: bool,
) -> Result<Bytes, Status> {
    let len = u32::try_from(payload.len()).map_err(|_| Status::resource_exhausted("message larger than 4 GiB"))?;
    let mut frame = BytesMut::with_capacity(payload.len() + 5);
    frame.put_u8(u8::from(gzip));
    frame.put_u32(len);
    frame.put(payload);
    let mut request = Request::post(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "gzip")
        .header("user-agent", concat!("otelstack-collector/", env!("CARGO_PKG_VERSION")))
        .body(tonic::body::Body::new(http_body_util::Full::new(frame.freeze())))
        .map_err(|e| Status::internal(e.to_string()))?;
    if gzip {
        request.headers_mut().insert("grpc-encoding", HeaderValue::from_static("gzip"));
    }
    for (k, v) in headers {
        request.headers_mut().insert(k.clone(), v.clone());
    }
    let mut channel = channel.clone();
    let response = channel
        .ready()
        .await
        .map_err(|e| Status::unavailable(format!("connection not ready: {}", chain(&e))))?
        .call(request)
        .await
        .map_err(|e| Status::unavailable(chain(&e)))?;
    let (parts, body) = response.into_parts();
    if parts.status != http::StatusCode::OK {
        return Err(Status::new(http_code(parts.status), format!("HTTP status {} from the gRPC server", parts.status)));
    }
    if let Some(status) = Status::from_header_map(&parts.headers).filter(|s| s.code() != Code::Ok) {
        return Err(status);
    }
    let collected = body.collect().await.map_err(|e| Status::unavailable(format!("reading the response: {e}")))?;
    if let Some(status) = collected.trailers().and_then(Status::from_header_map) {
        if status.code() != Code::Ok {
            return Err(status);
        }
    }
    let mut data = collected.to_bytes();
    if data.len() < 5 {
        return Ok(Bytes::new());
    }
    let compressed = data.get_u8() == 1;
    let n = data.get_u32() as usize;
    let message = data.split_to(n.min(data.len()));
    if !compressed {
        return Ok(message);
    }
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&message[..]).take(64 * 1024 * 1024), &mut out)
        .map_err(|e| Status::internal(format!("cannot decompress the response: {e}")))?;
    Ok(Bytes::from(out))
}

use std::io::Read as _;

/// An error with its causes: "transport error: dns error: failed to lookup ...".
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

/// The gRPC code for a non-200 HTTP status, per the gRPC HTTP/2 mapping.
fn http_code(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}
