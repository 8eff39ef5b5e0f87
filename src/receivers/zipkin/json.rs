//! Zipkin v2 JSON (`POST /api/v2/spans`, a list of spans as zipkin-api's
//! `zipkin2-api.yaml` defines them) into [`model::Span`]s.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::model::{self, kind_from_name, span_id_from_hex, trace_id_from_hex};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    local_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    remote_endpoint: Option<JsonEndpoint>,
    #[serde(default)]
    annotations: Option<Vec<JsonAnnotation>>,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    debug: Option<bool>,
    #[serde(default)]
    shared: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonEndpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<i32>,
}

#[derive(Deserialize)]
struct JsonAnnotation {
    timestamp: u64,
    value: String,
}

/// Parses a v2 JSON body; the error says which span and field is wrong.
pub fn parse(body: &[u8]) -> Result<Vec<model::Span>, String> {
    let spans: Vec<JsonSpan> = serde_json::from_slice(body).map_err(|e| format!("invalid Zipkin v2 JSON: {e}"))?;
    spans.into_iter().enumerate().map(|(i, s)| span(s).map_err(|e| format!("span {i}: {e}"))).collect()
}

fn span(s: JsonSpan) -> Result<model::Span, String> {
    let parent_id = match s.parent_id.as_deref() {
        None | Some("") => None,
        Some(p) => Some(span_id_from_hex("parentId", p)?),
    };
    let mut annotations = Vec::new();
    for a in s.annotations.unwrap_or_default() {
        if a.timestamp == 0 {
            return Err(format!("annotation {:?} needs a timestamp", a.value));
        }
        annotations.push((a.timestamp, a.value));
    }
    Ok(model::Span {
        trace_id: trace_id_from_hex(&s.trace_id)?,
        id: span_id_from_hex("id", &s.id)?,
        parent_id,
        name: s.name.unwrap_or_default(),
        kind: s.kind.as_deref().and_then(kind_from_name),
        timestamp: s.timestamp.unwrap_or(0),
        duration: s.duration.unwrap_or(0),
        local_endpoint: s.local_endpoint.map(endpoint).transpose()?.and_then(model::Endpoint::non_empty),
        remote_endpoint: s.remote_endpoint.map(endpoint).transpose()?.and_then(model::Endpoint::non_empty),
        annotations,
        tags: s.tags.unwrap_or_default(),
        debug: s.debug.unwrap_or(false),
        shared: s.shared.unwrap_or(false),
    })
}

fn endpoint(e: JsonEndpoint) -> Result<model::Endpoint, String> {
    let ipv4 = match e.ipv4.as_deref() {
        None | Some("") => None,
        Some(ip) => {
            Some(ip.parse::<Ipv4Addr>().map_err(|_| format!("ipv4 {ip:?} is not an IPv4 address"))?.to_string())
        }
    };
    let ipv6 = match e.ipv6.as_deref() {
        None | Some("") => None,
        Some(ip) => {
            Some(ip.parse::<Ipv6Addr>().map_err(|_| format!("ipv6 {ip:?} is not an IPv6 address"))?.to_string())
        }
    };
    Ok(model::Endpoint { service_name: e.service_name.unwrap_or_default(), ipv4, ipv6, port: e.port.unwrap_or(0) })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::receivers::zipkin::model::Kind;

    /// receiver/zipkinreceiver/testdata/sample4.json of otelcol-contrib
    pub const SAMPLE4: &str = r#"[{
      "traceId": "4d1e00c0db9010db86154a4ba6e91385", "parentId": "86154a4ba6e91385",
      "id": "4d1e00c0db9010db", "kind": "CLIENT", "name": "get",
      "timestamp": 1472470996199000, "duration": 207000,
      "localEndpoint": {"ipv6": "7::0.128.128.127"},
      "remoteEndpoint": {"ipv4": "192.168.99.101", "port": 9000},
      "annotations": [{"timestamp": 1472470996238000, "value": "foo"},
                      {"timestamp": 1472470996403000, "value": "bar"}],
      "tags": {"http.path": "/api", "clnt/finagle.version": "6.45.0", "error": "Non-basic error message"}
    }]"#;

    #[test]
    fn parses_upstreams_sample4() {
        let spans = parse(SAMPLE4.as_bytes()).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(const_hex::encode(s.trace_id), "4d1e00c0db9010db86154a4ba6e91385");
        assert_eq!(const_hex::encode(s.id), "4d1e00c0db9010db");
        assert_eq!(const_hex::encode(s.parent_id.unwrap()), "86154a4ba6e91385");
        assert_eq!((s.kind, s.name.as_str()), (Some(Kind::Client), "get"));
        assert_eq!((s.timestamp, s.duration), (1472470996199000, 207000));
        // Go prints this address the same way: 7::80:807f
        assert_eq!(s.local_endpoint.as_ref().unwrap().ipv6.as_deref(), Some("7::80:807f"));
        let remote = s.remote_endpoint.as_ref().unwrap();
        assert_eq!((remote.ipv4.as_deref(), remote.port), (Some("192.168.99.101"), 9000));
        assert_eq!(s.annotations, vec![(1472470996238000, "foo".into()), (1472470996403000, "bar".into())]);
        assert_eq!(s.tags["clnt/finagle.version"], "6.45.0");
    }

    #[test]
    fn refuses_what_zipkin_refuses() {
        for (body, want) in [
            (r#"{"traceId": "1"}"#, "invalid Zipkin v2 JSON"),
            (r#"[{"id": "1"}]"#, "traceId"),
            (r#"[{"traceId": "1", "id": "0"}]"#, "id is zero"),
            (r#"[{"traceId": "xyz", "id": "1"}]"#, "hexadecimal"),
            (r#"[{"traceId": "1", "id": "1", "tags": {"n": 5}}]"#, "invalid Zipkin v2 JSON"),
            (r#"[{"traceId": "1", "id": "1", "localEndpoint": {"ipv4": "1.2.3"}}]"#, "IPv4"),
            (r#"[{"traceId": "1", "id": "1", "annotations": [{"timestamp": 0, "value": "x"}]}]"#, "timestamp"),
            ("not json", "invalid Zipkin v2 JSON"),
        ] {
            let err = parse(body.as_bytes()).unwrap_err();
            assert!(err.contains(want), "{body}: {err}");
        }
        assert_eq!(parse(b"[]").unwrap(), vec![]);
    }
}
