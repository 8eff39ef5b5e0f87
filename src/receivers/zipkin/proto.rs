//! Zipkin v2 protobuf (`Content-Type: application/x-protobuf` on
//! `/api/v2/spans`): the messages of openzipkin/zipkin-api's `zipkin.proto`
//! (package `zipkin.proto3`) written as prost structs with the same field
//! numbers and types, and their checks into [`model::Span`]s.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use prost::Message;

use super::model;

#[derive(Clone, PartialEq, Message)]
pub struct ListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<Span>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Span {
    /// 8 or 16 bytes, big endian
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub id: Vec<u8>,
    /// SPAN_KIND_UNSPECIFIED = 0, CLIENT = 1, SERVER = 2, PRODUCER = 3, CONSUMER = 4
    #[prost(int32, tag = "4")]
    pub kind: i32,
    #[prost(string, tag = "5")]
    pub name: String,
    #[prost(fixed64, tag = "6")]
    pub timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub duration: u64,
    #[prost(message, optional, tag = "8")]
    pub local_endpoint: Option<Endpoint>,
    #[prost(message, optional, tag = "9")]
    pub remote_endpoint: Option<Endpoint>,
    #[prost(message, repeated, tag = "10")]
    pub annotations: Vec<Annotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    pub debug: bool,
    #[prost(bool, tag = "13")]
    pub shared: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Endpoint {
    #[prost(string, tag = "1")]
    pub service_name: String,
    /// 4 bytes
    #[prost(bytes = "vec", tag = "2")]
    pub ipv4: Vec<u8>,
    /// 16 bytes
    #[prost(bytes = "vec", tag = "3")]
    pub ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub port: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct Annotation {
    #[prost(fixed64, tag = "1")]
    pub timestamp: u64,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// Decodes a `ListOfSpans`; `debug` is set on every span when the request
/// carried `X-B3-Flags: 1`, as upstream's receiver does.
pub fn parse(body: &[u8], debug: bool) -> Result<Vec<model::Span>, String> {
    let list = ListOfSpans::decode(body).map_err(|e| format!("invalid Zipkin v2 protobuf: {e}"))?;
    list.spans.into_iter().enumerate().map(|(i, s)| span(s, debug).map_err(|e| format!("span {i}: {e}"))).collect()
}

fn span(s: Span, debug: bool) -> Result<model::Span, String> {
    let trace_id = match s.trace_id.len() {
        8 | 16 => {
            let mut id = [0u8; 16];
            id[16 - s.trace_id.len()..].copy_from_slice(&s.trace_id);
            id
        }
        n => return Err(format!("trace_id has {n} bytes; Zipkin sends 8 or 16")),
    };
    if trace_id == [0; 16] {
        return Err("trace_id is zero: a valid trace id is required".into());
    }
    let id = span_id("id", &s.id)?.ok_or("id is missing: a valid span id is required")?;
    let kind = match s.kind {
        1 => Some(model::Kind::Client),
        2 => Some(model::Kind::Server),
        3 => Some(model::Kind::Producer),
        4 => Some(model::Kind::Consumer),
        _ => None,
    };
    Ok(model::Span {
        trace_id,
        id,
        parent_id: span_id("parent_id", &s.parent_id)?,
        name: s.name,
        kind,
        timestamp: s.timestamp,
        duration: s.duration,
        local_endpoint: s.local_endpoint.map(endpoint).transpose()?.and_then(model::Endpoint::non_empty),
        remote_endpoint: s.remote_endpoint.map(endpoint).transpose()?.and_then(model::Endpoint::non_empty),
        annotations: s.annotations.into_iter().map(|a| (a.timestamp, a.value)).collect(),
        tags: s.tags,
        debug: s.debug || debug,
        shared: s.shared,
    })
}

fn span_id(field: &str, b: &[u8]) -> Result<Option<[u8; 8]>, String> {
    match b.len() {
        0 => Ok(None),
        8 if b == [0; 8] => Err(format!("{field} is zero: a valid span id is required")),
        8 => Ok(Some(b.try_into().expect("8 bytes"))),
        n => Err(format!("{field} has {n} bytes; Zipkin sends 8")),
    }
}

fn endpoint(e: Endpoint) -> Result<model::Endpoint, String> {
    let ipv4 = match e.ipv4.len() {
        0 => None,
        4 => Some(Ipv4Addr::from(<[u8; 4]>::try_from(&e.ipv4[..]).expect("4 bytes")).to_string()),
        n => return Err(format!("endpoint ipv4 has {n} bytes; it takes 4")),
    };
    let ipv6 = match e.ipv6.len() {
        0 => None,
        16 => Some(Ipv6Addr::from(<[u8; 16]>::try_from(&e.ipv6[..]).expect("16 bytes")).to_string()),
        n => return Err(format!("endpoint ipv6 has {n} bytes; it takes 16")),
    };
    Ok(model::Endpoint { service_name: e.service_name, ipv4, ipv6, port: e.port })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes written by hand from zipkin.proto's field numbers, so the test
    /// does not trust the structs it checks.
    #[test]
    fn decodes_hand_written_wire_bytes() {
        let mut span = Vec::new();
        span.extend([0x0a, 8, 0, 0, 0, 0, 0, 0, 0, 0x2a]); // trace_id (64-bit) = 0x2a
        span.extend([0x1a, 8, 0, 0, 0, 0, 0, 0, 0, 0x07]); // id = 7
        span.extend([0x20, 2]); // kind = SERVER
        span.extend([0x2a, 3, b'g', b'e', b't']); // name
        span.push(0x31); // timestamp, fixed64
        span.extend(1_000_000u64.to_le_bytes());
        span.extend([0x38, 0xe8, 0x07]); // duration = 1000
        span.extend([0x42, 8, 0x0a, 2, b'f', b'e', 0x12, 2]); // local_endpoint: service_name "fe", ipv4 ...
        span.extend([127, 1]); // ... 2 bytes: too short, fixed below
        let list = |span: &[u8]| {
            let mut l = vec![0x0a, span.len() as u8];
            l.extend(span);
            l
        };
        let err = parse(&list(&span), false).unwrap_err();
        assert!(err.contains("ipv4 has 2 bytes"), "{err}");
        span.truncate(span.len() - 10);
        span.extend([0x42, 12, 0x0a, 2, b'f', b'e', 0x12, 4, 127, 0, 0, 1, 0x20, 80]); // + port 80
        span.extend([0x5a, 6, 0x0a, 1, b'k', 0x12, 1, b'v']); // tags {"k": "v"}
        span.extend([0x68, 1]); // shared
        let spans = parse(&list(&span), false).unwrap();
        let s = &spans[0];
        assert_eq!(const_hex::encode(s.trace_id), "0000000000000000000000000000002a");
        assert_eq!(s.id, 7u64.to_be_bytes());
        assert_eq!(
            (s.kind, s.name.as_str(), s.timestamp, s.duration),
            (Some(model::Kind::Server), "get", 1_000_000, 1000)
        );
        let local = s.local_endpoint.as_ref().unwrap();
        assert_eq!((local.service_name.as_str(), local.ipv4.as_deref(), local.port), ("fe", Some("127.0.0.1"), 80));
        assert_eq!(s.tags["k"], "v");
        assert!(s.shared && !s.debug);
        assert!(parse(&list(&span), true).unwrap()[0].debug, "X-B3-Flags: 1 marks spans debug");
        assert!(parse(b"\x0a\x05garbage", false).unwrap_err().contains("invalid Zipkin v2 protobuf"));
    }
}
