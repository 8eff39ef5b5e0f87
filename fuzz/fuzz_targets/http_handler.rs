//! The OTLP/HTTP request path without a network: content type, content
//! encoding, size limit, inflating and decoding (`http::decode_request`, the
//! function the receiver's handler calls). It must never panic and must answer
//! 200, 400, 413 or 415.
//!
//! Input layout: byte 0 picks the signal, byte 1 the content type, byte 2 the
//! content encoding, byte 3 whether the rest is compressed with that encoding
//! first (so valid compressed bodies reach the decoders) and the size limit.

#![no_main]

use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;
use otelstack::receivers::otlp::http::decode_request;
use otelstack::signal::Signal;

const CONTENT_TYPES: &[&str] = &[
    "application/x-protobuf",
    "application/json",
    "application/protobuf",
    "application/json; charset=utf-8",
    "Application/X-Protobuf ; q=1",
    "text/plain",
    "",
];
const ENCODINGS: &[&str] = &["", "identity", "gzip", "x-gzip", "deflate", "zlib", "zstd", "br", " GZIP "];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime"))
}

fn compress(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).expect("in memory");
            e.finish().expect("in memory")
        }
        "deflate" | "zlib" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(body).expect("in memory");
            e.finish().expect("in memory")
        }
        "zstd" => zstd::bulk::compress(body, 1).expect("in memory"),
        _ => body.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let [sig, ctype, enc, mode, rest @ ..] = data else { return };
    let signal = [Signal::Traces, Signal::Metrics, Signal::Logs][usize::from(*sig) % 3];
    let content_type = CONTENT_TYPES[usize::from(*ctype) % CONTENT_TYPES.len()];
    let encoding = ENCODINGS[usize::from(*enc) % ENCODINGS.len()];
    let mut headers = HeaderMap::new();
    if !content_type.is_empty() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if !encoding.is_empty() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    let body = if mode & 1 == 1 { compress(encoding, rest) } else { rest.to_vec() };
    // limits from 64 bytes to 1 MiB, so both sides of every limit are reached
    let max_body = 64usize << (usize::from(mode >> 1) % 15);
    let status = match runtime().block_on(decode_request(signal, &headers, Body::from(body), max_body)) {
        Ok((batch, _json)) => {
            assert_eq!(batch.signal(), signal);
            StatusCode::OK
        }
        Err(response) => response.status(),
    };
    assert!(
        matches!(status.as_u16(), 200 | 400 | 413 | 415),
        "status {status} for content type {content_type:?}, encoding {encoding:?}"
    );
});
