//! A Zipkin v2 span as both v2 encodings (JSON and protobuf) parse into it:
//! ids already checked, times in microseconds as Zipkin sends them.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Server,
    Producer,
    Consumer,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    pub service_name: String,
    /// printed addresses (parsed, so malformed ones were refused)
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub port: i32,
}

impl Endpoint {
    /// An endpoint with nothing set counts as absent, as in zipkin-go.
    pub fn non_empty(self) -> Option<Endpoint> {
        (self != Endpoint::default()).then_some(self)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub id: [u8; 8],
    pub parent_id: Option<[u8; 8]>,
    pub name: String,
    pub kind: Option<Kind>,
    /// epoch microseconds; 0 when the client left it out
    pub timestamp: u64,
    pub duration: u64,
    pub local_endpoint: Option<Endpoint>,
    pub remote_endpoint: Option<Endpoint>,
    /// (epoch microseconds, value)
    pub annotations: Vec<(u64, String)>,
    pub tags: BTreeMap<String, String>,
    pub debug: bool,
    pub shared: bool,
}

/// A trace id from 1 to 32 hex digits (64- or 128-bit, left-padded as
/// zipkin-go does); zero is refused.
pub fn trace_id_from_hex(s: &str) -> Result<[u8; 16], String> {
    if s.is_empty() || s.len() > 32 {
        return Err(format!("traceId {s:?} must be 16 or 32 hex characters"));
    }
    let (high, low) = if s.len() > 16 { s.split_at(s.len() - 16) } else { ("", s) };
    let parse = |h: &str| if h.is_empty() { Ok(0) } else { u64::from_str_radix(h, 16) };
    let bad = |_| format!("traceId {s:?} is not hexadecimal");
    let (high, low) = (parse(high).map_err(bad)?, parse(low).map_err(bad)?);
    if high == 0 && low == 0 {
        return Err("traceId is zero: a valid trace id is required".into());
    }
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&high.to_be_bytes());
    id[8..].copy_from_slice(&low.to_be_bytes());
    Ok(id)
}

/// A span id of 1 to 16 hex digits; zero is refused.
pub fn span_id_from_hex(field: &str, s: &str) -> Result<[u8; 8], String> {
    if s.is_empty() || s.len() > 16 {
        return Err(format!("{field} {s:?} must be 16 hex characters"));
    }
    let v = u64::from_str_radix(s, 16).map_err(|_| format!("{field} {s:?} is not hexadecimal"))?;
    if v == 0 {
        return Err(format!("{field} is zero: a valid span id is required"));
    }
    Ok(v.to_be_bytes())
}

pub fn kind_from_name(s: &str) -> Option<Kind> {
    match s {
        "CLIENT" => Some(Kind::Client),
        "SERVER" => Some(Kind::Server),
        "PRODUCER" => Some(Kind::Producer),
        "CONSUMER" => Some(Kind::Consumer),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_of_64_and_128_bits() {
        let short = trace_id_from_hex("86154a4ba6e91385").unwrap();
        assert_eq!(const_hex::encode(short), "000000000000000086154a4ba6e91385");
        let long = trace_id_from_hex("4d1e00c0db9010db86154a4ba6e91385").unwrap();
        assert_eq!(const_hex::encode(long), "4d1e00c0db9010db86154a4ba6e91385");
        assert!(trace_id_from_hex("0000000000000000").unwrap_err().contains("zero"));
        assert!(trace_id_from_hex("zz").unwrap_err().contains("hexadecimal"));
        assert!(trace_id_from_hex(&"1".repeat(33)).is_err());
        assert!(span_id_from_hex("id", "0").unwrap_err().contains("zero"));
        assert_eq!(span_id_from_hex("id", "4d1e00c0db9010db").unwrap(), 0x4d1e00c0db9010dbu64.to_be_bytes());
    }
}
