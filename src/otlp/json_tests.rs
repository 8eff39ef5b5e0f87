use super::*;
use crate::signal::Batch;

const TRACE_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
 "scopeSpans":[{"scope":{"name":"lib","version":"1.2"},"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
 "spanId":"eee19b7ec3c1b174","parentSpanId":"eee19b7ec3c1b173","name":"GET /cart","kind":2,
 "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
 "attributes":[{"key":"http.status_code","value":{"intValue":"200"}},{"key":"retries","value":{"intValue":3}},
 {"key":"ok","value":{"boolValue":true}},{"key":"ratio","value":{"doubleValue":0.5}}],
 "status":{"code":2,"message":"boom"},"someFutureField":{"x":1}}]}]}]}"#;

#[test]
fn decodes_otlp_json_per_the_spec() {
    let Decoded::Traces(rs) = decode_json(Signal::Traces, TRACE_JSON.as_bytes()).unwrap().decoded().unwrap() else {
        panic!()
    };
    let span = &rs[0].scope_spans[0].spans[0];
    assert_eq!(const_hex::encode(&span.trace_id), "5b8efff798038103d269b633813fc60c");
    assert_eq!(const_hex::encode(&span.span_id), "eee19b7ec3c1b174");
    assert_eq!(const_hex::encode(&span.parent_span_id), "eee19b7ec3c1b173");
    assert_eq!(span.name, "GET /cart");
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let attr = |k: &str| span.attributes.iter().find(|a| a.key == k).unwrap().value.clone().unwrap().value.unwrap();
    assert_eq!(attr("http.status_code"), V::IntValue(200));
    assert_eq!(attr("retries"), V::IntValue(3));
    assert_eq!(attr("ok"), V::BoolValue(true));
    assert_eq!(attr("ratio"), V::DoubleValue(0.5));
    assert_eq!(span.status.as_ref().unwrap().code, 2);
    let batch = Batch::from_decoded(Decoded::Traces(rs));
    assert_eq!(batch.items(), 1);
}

#[test]
fn rejects_bad_hex_ids_and_malformed_json() {
    let bad = TRACE_JSON.replace("5b8efff798038103d269b633813fc60c", "not-hex-at-all");
    assert!(decode_json(Signal::Traces, bad.as_bytes()).is_err());
    let short = TRACE_JSON.replace("5b8efff798038103d269b633813fc60c", "5b8efff798038103d269b633813f");
    assert_eq!(decode_json(Signal::Traces, short.as_bytes()).unwrap_err(), "trace id must be 16 bytes");
    assert!(decode_json(Signal::Traces, b"{\"resourceSpans\": [").is_err());
    assert!(decode_json(Signal::Logs, b"[]").is_err());
}

#[test]
fn empty_json_request_is_valid() {
    assert_eq!(decode_json(Signal::Metrics, b"{}").unwrap().items(), 0);
    assert_eq!(decode_json(Signal::Logs, br#"{"resourceLogs":[]}"#).unwrap().items(), 0);
}

#[test]
fn partial_success_round_trips() {
    let p = PartialSuccess { rejected: 3, error_message: "3 spans had no name".into() };
    assert_eq!(PartialSuccess::decode_response(&p.encode_response()).unwrap(), p);
    assert!(PartialSuccess::default().encode_response().is_empty());
    let json: serde_json::Value = serde_json::from_slice(&p.encode_response_json(Signal::Traces)).unwrap();
    assert_eq!(json["partialSuccess"]["rejectedSpans"], "3");
    assert_eq!(PartialSuccess::default().encode_response_json(Signal::Logs), b"{}");
}

#[test]
fn status_bodies_carry_code_and_message() {
    let body = status_proto(3, "bad span");
    assert_eq!(status_message(&body).as_deref(), Some("bad span"));
    let json: serde_json::Value = serde_json::from_slice(&status_json(14, "busy")).unwrap();
    assert_eq!(json, serde_json::json!({"code": 14, "message": "busy"}));
}
