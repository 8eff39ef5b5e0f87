//! OTLP encodings shared by receivers and exporters: the wire walker, decoded
//! data, OTLP/JSON, export responses and `google.rpc.Status` bodies, and
//! attribute values rendered as pdata renders them (`pdata`).

pub mod data;
pub mod grpc_client;
pub mod grpc_codec;
pub mod pdata;
pub mod wire;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::otlp::data::Decoded;
use crate::signal::Signal;

/// Decodes an OTLP/JSON export request (hex ids, int64 as string or number,
/// enums as integers, unknown fields ignored) into an encoded batch. The
/// encoded form goes through the same wire checks as protobuf requests, so
/// ids of the wrong length are refused here too.
pub fn decode_json(signal: Signal, body: &[u8]) -> Result<crate::signal::Batch, String> {
    let decoded = decode_json_unchecked(signal, body).map_err(|e| e.to_string())?;
    crate::signal::Batch::from_encoded(signal, bytes::Bytes::from(decoded.encode_request())).map_err(|e| e.0.to_owned())
}

pub fn decode_json_unchecked(signal: Signal, body: &[u8]) -> Result<Decoded, serde_json::Error> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(serde::de::Error::custom("an OTLP/JSON request must be a JSON object"));
    }
    Ok(match signal {
        Signal::Traces => Decoded::Traces(serde_json::from_slice::<ExportTraceServiceRequest>(body)?.resource_spans),
        Signal::Metrics => {
            Decoded::Metrics(serde_json::from_slice::<ExportMetricsServiceRequest>(body)?.resource_metrics)
        }
        Signal::Logs => Decoded::Logs(serde_json::from_slice::<ExportLogsServiceRequest>(body)?.resource_logs),
    })
}

/// Encodes decoded data as an OTLP/JSON export request.
pub fn encode_json(decoded: &Decoded) -> Vec<u8> {
    let result = match decoded {
        Decoded::Traces(v) => serde_json::to_vec(&ExportTraceServiceRequest { resource_spans: v.clone() }),
        Decoded::Metrics(v) => serde_json::to_vec(&ExportMetricsServiceRequest { resource_metrics: v.clone() }),
        Decoded::Logs(v) => serde_json::to_vec(&ExportLogsServiceRequest { resource_logs: v.clone() }),
    };
    result.expect("OTLP messages always serialize")
}

/// Partial success of an export: items the receiving side rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    pub rejected: i64,
    pub error_message: String,
}

impl PartialSuccess {
    pub fn is_empty(&self) -> bool {
        self.rejected == 0 && self.error_message.is_empty()
    }

    /// The protobuf `Export*ServiceResponse`; every signal's response has the
    /// same shape: field 1 `partial_success { int64 rejected = 1; string error_message = 2; }`.
    pub fn encode_response(&self) -> Vec<u8> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut inner = Vec::new();
        if self.rejected != 0 {
            prost::encoding::int64::encode(1, &self.rejected, &mut inner);
        }
        if !self.error_message.is_empty() {
            prost::encoding::string::encode(2, &self.error_message, &mut inner);
        }
        let mut out = Vec::with_capacity(inner.len() + 4);
        prost::encoding::bytes::encode(1, &inner, &mut out);
        out
    }

    /// The OTLP/JSON response body.
    pub fn encode_response_json(&self, signal: Signal) -> Vec<u8> {
        if self.is_empty() {
            return b"{}".to_vec();
        }
        let field = format!("rejected{}", rejected_suffix(signal));
        serde_json::to_vec(&serde_json::json!({
            "partialSuccess": { field: self.rejected.to_string(), "errorMessage": self.error_message }
        }))
        .expect("json")
    }

    /// Reads the partial success out of an encoded export response.
    pub fn decode_response(buf: &[u8]) -> Result<PartialSuccess, wire::WireError> {
        let mut out = PartialSuccess::default();
        let mut pos = 0;
        while pos < buf.len() {
            let (num, wt) = wire::read_key(buf, &mut pos)?;
            if num == 1 && wt == 2 {
                let range = wire::read_len(buf, &mut pos)?;
                let inner = &buf[range];
                let mut p = 0;
                while p < inner.len() {
                    let (n, w) = wire::read_key(inner, &mut p)?;
                    match (n, w) {
                        (1, 0) => out.rejected = wire::read_varint(inner, &mut p)? as i64,
                        (2, 2) => {
                            let r = wire::read_len(inner, &mut p)?;
                            out.error_message = String::from_utf8_lossy(&inner[r]).into_owned();
                        }
                        _ => wire::skip(inner, &mut p, w)?,
                    }
                }
            } else {
                wire::skip(buf, &mut pos, wt)?;
            }
        }
        Ok(out)
    }
}

fn rejected_suffix(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "Spans",
        Signal::Metrics => "DataPoints",
        Signal::Logs => "LogRecords",
    }
}

/// A `google.rpc.Status` body, as OTLP/HTTP servers return on errors.
pub fn status_proto(code: i32, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    if code != 0 {
        prost::encoding::int32::encode(1, &code, &mut out);
    }
    if !message.is_empty() {
        prost::encoding::string::encode(2, &message.to_owned(), &mut out);
    }
    out
}

pub fn status_json(code: i32, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "code": code, "message": message })).expect("json")
}

/// Reads the message out of an encoded `google.rpc.Status` (best effort).
pub fn status_message(buf: &[u8]) -> Option<String> {
    let mut pos = 0;
    while pos < buf.len() {
        let (num, wt) = wire::read_key(buf, &mut pos).ok()?;
        if num == 2 && wt == 2 {
            let r = wire::read_len(buf, &mut pos).ok()?;
            return Some(String::from_utf8_lossy(&buf[r]).into_owned());
        }
        wire::skip(buf, &mut pos, wt).ok()?;
    }
    None
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
