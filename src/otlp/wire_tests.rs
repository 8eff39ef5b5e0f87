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

/// Found by the `otlp_protobuf` fuzz target: a ten-byte varint whose last
/// byte carries more than bit 63 was accepted here and refused by prost.
#[test]
fn refuses_varints_that_overflow_64_bits() {
    let unknown_varint_field = |last: u8| {
        let mut b = vec![0xa0, 0x7d]; // field 2004, wire type 0
        b.extend([0xff; 9]);
        b.push(last);
        b
    };
    assert_eq!(inspect(Signal::Traces, &unknown_varint_field(0x0a)), Err(WireError("varint overflows 64 bits")));
    assert!(ExportTraceServiceRequest::decode(&unknown_varint_field(0x0a)[..]).is_err());
    assert_eq!(inspect(Signal::Traces, &unknown_varint_field(0x01)), Ok(0));
    assert!(ExportTraceServiceRequest::decode(&unknown_varint_field(0x01)[..]).is_ok());
    let crash = [0xa0, 0x7d, 0xcb, 0xfd, 0xf5, 0x8d, 0xb5, 0x9a, 0x8d, 0xe7, 0xa0, 0x0a];
    assert!(inspect(Signal::Traces, &crash).is_err());
}

/// Found with the `otlp_protobuf` fuzz target's check: a metric carrying two
/// data fields (a gauge, then a sum) decodes to the sum only (the last field
/// of a oneof wins), but its gauge points were counted too.
#[test]
fn counts_only_the_last_data_field_of_a_metric() {
    use opentelemetry_proto::tonic::metrics::v1::{metric::Data, Gauge, Metric, NumberDataPoint, Sum};
    let dp = NumberDataPoint::default();
    let metric = |data| Metric { name: "m".into(), data: Some(data), ..Default::default() }.encode_to_vec();
    let gauge = |n| metric(Data::Gauge(Gauge { data_points: vec![dp.clone(); n] }));
    let sum = |n| metric(Data::Sum(Sum { data_points: vec![dp.clone(); n], ..Default::default() }));
    let field = |num: u32, payload: &[u8]| {
        let mut out = Vec::new();
        prost::encoding::bytes::encode(num, &payload.to_vec(), &mut out);
        out
    };
    let request = |metric: Vec<u8>| field(1, &field(2, &field(2, &metric)));
    for (parts, want) in [
        (vec![gauge(2), sum(1)], 1),           // sum replaces the gauge
        (vec![gauge(2), gauge(3)], 5),         // the same field merges
        (vec![gauge(2), sum(1), gauge(4)], 4), // the gauge replaces the sum
        (vec![sum(3), sum(1), metric(Data::Gauge(Gauge::default()))], 0),
    ] {
        let bytes = request(parts.concat());
        let decoded = ExportMetricsServiceRequest::decode(&bytes[..]).unwrap();
        assert_eq!(crate::otlp::data::Decoded::Metrics(decoded.resource_metrics).item_count(), want);
        assert_eq!(inspect(Signal::Metrics, &bytes), Ok(want));
    }
}

#[test]
fn utf8_check_agrees_with_the_standard_one_on_ascii_multibyte_and_broken_strings() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"GET /api/v1/users/{id}".to_vec(),
        b"exactly8".to_vec(),
        "서비스 이름".as_bytes().to_vec(),
        "an ASCII run longer than eight bytes, then é".as_bytes().to_vec(),
        vec![b'a'; 7].into_iter().chain([0xff]).collect(),
        vec![b'a'; 16].into_iter().chain([0xc3]).collect(), // cut in the middle of a character
        vec![0x80; 9],
        vec![0xed, 0xa0, 0x80], // a surrogate, never valid UTF-8
    ];
    for case in cases {
        assert_eq!(is_utf8(&case), std::str::from_utf8(&case).is_ok(), "{case:?}");
    }
}

/// The one- and two-byte fast paths read what prost writes, stop where it
/// stops, and leave truncated and non-minimal forms to the general case.
#[test]
fn varints_of_every_length_read_as_prost_writes_them() {
    let mut values: Vec<u64> = vec![0, 1, 127, 128, 255, 300, 16_383, 16_384, 16_385, 2_097_151, 2_097_152];
    values.extend((0..64).map(|b| 1u64 << b));
    values.extend((1..64).map(|b| (1u64 << b) - 1));
    values.push(u64::MAX);
    for v in values {
        let mut buf = Vec::new();
        prost::encoding::encode_varint(v, &mut buf);
        let len = buf.len();
        buf.push(0x55); // the next field's first byte must stay unread
        let mut pos = 0;
        assert_eq!(read_varint(&buf, &mut pos), Ok(v), "value {v}");
        assert_eq!(pos, len, "value {v}");
        let mut pos = 0;
        assert_eq!(read_varint(&buf[..len - 1], &mut pos), Err(WireError("truncated varint")), "value {v} cut short");
    }
    // a non-minimal two-byte zero is still a valid varint, as in prost
    let mut pos = 0;
    assert_eq!(read_varint(&[0x80, 0x00], &mut pos), Ok(0));
    assert_eq!(pos, 2);
    // reading from an offset
    let mut pos = 1;
    assert_eq!(read_varint(&[0xff, 0xac, 0x02, 0x01], &mut pos), Ok(300));
    assert_eq!(pos, 3);
    let mut pos = 4;
    assert_eq!(read_varint(&[0xff, 0xac, 0x02, 0x01], &mut pos), Err(WireError("truncated varint")));
}

/// The in-order shortcut of `Schema::kind` finds every field of every schema,
/// listed in order or not, and nothing for numbers a schema does not have.
#[test]
fn every_schema_field_is_found_by_its_number() {
    fn same(a: Kind, b: Kind) -> bool {
        match (a, b) {
            (Kind::Msg(x), Kind::Msg(y)) => std::ptr::eq(x, y),
            (Kind::Id(x), Kind::Id(y)) => x == y,
            (Kind::Packed(x), Kind::Packed(y)) => x == y,
            (x, y) => std::mem::discriminant(&x) == std::mem::discriminant(&y),
        }
    }
    let schemas: &[&Schema] = &[
        &ANY_VALUE,
        &ARRAY_VALUE,
        &KV_LIST,
        &KEY_VALUE,
        &SCOPE,
        &ENTITY_REF,
        &RESOURCE,
        &STATUS,
        &EVENT,
        &LINK,
        &SPAN,
        &SCOPE_SPANS,
        &RESOURCE_SPANS,
        &TRACES_REQUEST,
        &LOG_RECORD,
        &SCOPE_LOGS,
        &RESOURCE_LOGS,
        &LOGS_REQUEST,
        &EXEMPLAR,
        &NUMBER_DP,
        &HISTOGRAM_DP,
        &BUCKETS,
        &EXP_HISTOGRAM_DP,
        &QUANTILE,
        &SUMMARY_DP,
        &GAUGE,
        &SUM,
        &HISTOGRAM,
        &EXP_HISTOGRAM,
        &SUMMARY,
        &METRIC,
        &SCOPE_METRICS,
        &RESOURCE_METRICS,
        &METRICS_REQUEST,
    ];
    for schema in schemas {
        for &(num, kind) in schema.fields {
            assert!(schema.kind(num).is_some_and(|k| same(k, kind)), "field {num}");
        }
        for num in [0, 17, 99, u32::MAX >> 3] {
            assert!(schema.fields.iter().any(|(n, _)| *n == num) || schema.kind(num).is_none(), "field {num}");
        }
    }
    // out of order: EXEMPLAR lists 7 first, LOG_RECORD lists 11 second
    assert!(matches!(EXEMPLAR.kind(7), Some(Kind::Msg(_))));
    assert!(EXEMPLAR.kind(1).is_none());
    assert!(matches!(LOG_RECORD.kind(11), Some(Kind::Fixed64)));
    assert!(LOG_RECORD.kind(4).is_none());
}
