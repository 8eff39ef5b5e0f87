//! A unary gRPC call over a tonic `Channel` with framing done here, so the
//! exporter chooses its own compression: tonic compresses gzip at level 6,
//! which costs more CPU than everything else on the export path. We send
//! level-1 gzip (zlib-rs), which otelcol's receivers accept like any gzip.

use std::io::Write;

use bytes::{Buf, Bytes};
use http::{HeaderValue, Request};
use http_body_util::BodyExt;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};

/// One length-prefixed gRPC message, ready to send: the 5-byte prefix
/// (compressed flag, length) and the message, which stays the caller's
/// buffer when uncompressed and is compressed straight behind the prefix
/// otherwise, so the message is never copied into a frame.
pub struct Frame {
    prefix: [u8; 5],
    /// the whole frame when compressed; the bare message otherwise
    body: Bytes,
    gzip: bool,
}

impl Frame {
    /// The message as it is.
    pub fn plain(message: Bytes) -> Result<Frame, Status> {
        Ok(Frame { prefix: prefix(false, message.len())?, body: message, gzip: false })
    }

    /// The message gzip-compressed at the fastest level.
    pub fn gzip(message: &[u8]) -> std::io::Result<Frame> {
        Ok(Frame::from_gzip_wire(Frame::gzip_wire(message)?))
    }

    /// The whole frame of [`Frame::gzip`] as it goes on the wire, prefix
    /// included: what a sender keeps to resend it.
    pub fn gzip_wire(message: &[u8]) -> std::io::Result<Bytes> {
        let mut out = Vec::with_capacity(message.len() / 4 + 64);
        out.extend_from_slice(&[0; 5]);
        let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        enc.write_all(message)?;
        let mut out = enc.finish()?;
        let header = prefix(true, out.len() - 5).map_err(|s| std::io::Error::other(s.message().to_owned()))?;
        out[..5].copy_from_slice(&header);
        Ok(Bytes::from(out))
    }

    /// A frame made by [`Frame::gzip_wire`].
    pub fn from_gzip_wire(frame: Bytes) -> Frame {
        let mut prefix = [0u8; 5];
        prefix.copy_from_slice(&frame[..5]);
        debug_assert_eq!(prefix[0], 1, "a compressed frame");
        Frame { prefix, body: frame, gzip: true }
    }

    fn into_body(self) -> tonic::body::Body {
        if self.gzip {
            return tonic::body::Body::new(http_body_util::Full::new(self.body));
        }
        let chunks = [Bytes::copy_from_slice(&self.prefix), self.body]
            .map(|b| Ok::<_, std::convert::Infallible>(http_body::Frame::data(b)));
        tonic::body::Body::new(http_body_util::StreamBody::new(futures::stream::iter(chunks)))
    }
}

fn prefix(compressed: bool, len: usize) -> Result<[u8; 5], Status> {
    let len = u32::try_from(len).map_err(|_| Status::resource_exhausted("message larger than 4 GiB"))?;
    let mut p = [0u8; 5];
    p[0] = u8::from(compressed);
    p[1..].copy_from_slice(&len.to_be_bytes());
    Ok(p)
}

/// Sends one message and returns the response message.
pub async fn unary(
    channel: &Channel,
    path: &'static str,
    headers: &http::HeaderMap,
    frame: Frame,
) -> Result<Bytes, Status> {
    let gzip = frame.gzip;
    let mut request = Request::post(path)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "gzip")
        .header("user-agent", concat!("otelstack-collector/", env!("CARGO_PKG_VERSION")))
        .body(frame.into_body())
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
