use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, KeyValueList};
use prost::Message;

use super::*;
use crate::testkit::{gauge, logs, metrics, spans};

fn traces_bytes() -> Vec<u8> {
    ExportTraceServiceRequest { resource_spans: vec![spans("a", "x", 3), spans("b", "y", 4)] }.encode_to_vec()
}

#[test]
fn counts_items_of_every_signal() {
    assert_eq!(inspect(Signal::Traces, &traces_bytes()), Ok(7));
    let m = ExportMetricsServiceRequest { resource_metrics: vec![metrics("a", vec![gauge("g1", 3), gauge("g2", 2)])] };
    assert_eq!(inspect(Signal::Metrics, &m.encode_to_vec()), Ok(5));
    let l = ExportLogsServiceRequest { resource_logs: vec![logs("a", &["one", "two"])] };
    assert_eq!(inspect(Signal::Logs, &l.encode_to_vec()), Ok(2));
    assert_eq!(inspect(Signal::Traces, &[]), Ok(0));
}

#[test]
fn rejects_every_truncation_of_a_valid_request() {
    let bytes = traces_bytes();
    for cut in 1..bytes.len() {
        // a prefix may end exactly on a field boundary; then it is valid and counts fewer spans
        if let Ok(n) = inspect(Signal::Traces, &bytes[..cut]) {
            assert!(n < 7, "a truncated request cannot carry all 7 spans (cut at {cut})");
            let decoded = ExportTraceServiceRequest::decode(&bytes[..cut]).expect("accepted prefixes decode");
            let spans: usize = decoded.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
            assert_eq!(spans, n);
        }
    }
}

#[test]
fn rejects_garbage_and_wrong_wire_types() {
    assert!(inspect(Signal::Traces, b"\xff\xff\xff").is_err());
    assert!(inspect(Signal::Traces, b"hello world, not protobuf").is_err());
    // field 1 (resource_spans) as a varint instead of a message
    assert_eq!(inspect(Signal::Traces, &[0x08, 0x01]), Err(WireError("field has the wrong wire type")));
    // end-group wire type
    assert!(inspect(Signal::Logs, &[0x0c]).is_err());
}

#[test]
fn rejects_invalid_utf8_in_strings() {
    let mut rs = spans("svc", "ok", 1);
    rs.scope_spans[0].spans[0].name = "PLACEHOLDER".into();
    let mut bytes = ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec();
    let at = bytes.windows(11).position(|w| w == b"PLACEHOLDER").unwrap();
    bytes[at] = 0xff;
    assert_eq!(inspect(Signal::Traces, &bytes), Err(WireError("string field is not valid UTF-8")));
}

#[test]
fn refuses_nesting_deeper_than_prost_decodes() {
    let mut value = AnyValue { value: Some(V::StringValue("leaf".into())) };
    for _ in 0..200 {
        value = AnyValue {
            value: Some(V::KvlistValue(KeyValueList {
                values: vec![KeyValue { key: "k".into(), value: Some(value), ..Default::default() }],
            })),
        };
    }
    let mut rs = spans("svc", "deep", 1);
    rs.scope_spans[0].spans[0].attributes.push(KeyValue {
        key: "deep".into(),
        value: Some(value),
        ..Default::default()
    });
    let bytes = ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec();
    assert_eq!(inspect(Signal::Traces, &bytes), Err(WireError("message nested too deeply")));
}

#[test]
fn skips_unknown_fields_and_accepts_what_prost_accepts() {
    let mut bytes = traces_bytes();
    // unknown field 99 (length-delimited) at the top level
    bytes.extend_from_slice(&[0x9a, 0x06, 0x03, b'a', b'b', b'c']);
    assert_eq!(inspect(Signal::Traces, &bytes), Ok(7));
    assert!(ExportTraceServiceRequest::decode(bytes.as_slice()).is_ok());
}

#[test]
fn concatenated_requests_are_one_request() {
    let a = ExportTraceServiceRequest { resource_spans: vec![spans("a", "x", 2)] }.encode_to_vec();
    let b = ExportTraceServiceRequest { resource_spans: vec![spans("b", "y", 3)] }.encode_to_vec();
    let joined = [a.as_slice(), b.as_slice()].concat();
    assert_eq!(inspect(Signal::Traces, &joined), Ok(5));
    let decoded = ExportTraceServiceRequest::decode(joined.as_slice()).unwrap();
    assert_eq!(decoded.resource_spans, vec![spans("a", "x", 2), spans("b", "y", 3)]);
    assert_eq!(resource_entries(&joined).unwrap().len(), 2);
}

#[test]
fn ids_of_the_wrong_length_are_invalid() {
    let mut rs = spans("svc", "bad", 1);
    rs.scope_spans[0].spans[0].trace_id = vec![1; 7];
    let bytes = ExportTraceServiceRequest { resource_spans: vec![rs.clone()] }.encode_to_vec();
    assert_eq!(inspect(Signal::Traces, &bytes), Err(WireError("trace id must be 16 bytes")));
    rs.scope_spans[0].spans[0].trace_id = vec![1; 16];
    rs.scope_spans[0].spans[0].parent_span_id = vec![2; 9];
    let bytes = ExportTraceServiceRequest { resource_spans: vec![rs.clone()] }.encode_to_vec();
    assert_eq!(inspect(Signal::Traces, &bytes), Err(WireError("span id must be 8 bytes")));
    rs.scope_spans[0].spans[0].parent_span_id = vec![];
    let bytes = ExportTraceServiceRequest { resource_spans: vec![rs] }.encode_to_vec();
    assert_eq!(inspect(Signal::Traces, &bytes), Ok(1), "an empty parent id is a root span");
}
