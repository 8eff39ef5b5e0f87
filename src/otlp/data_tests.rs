use super::*;
use crate::signal::Signal;
use crate::testkit::{gauge, metrics, spans};

fn names(d: &Decoded) -> Vec<String> {
    let Decoded::Traces(rs) = d else { panic!("traces expected") };
    rs.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).map(|s| s.name.clone()).collect()
}

#[test]
fn splits_spans_exactly_and_keeps_order_and_resources() {
    let d = Decoded::Traces(vec![spans("a", "a", 7), spans("b", "b", 18)]);
    let chunks = split(d, 10);
    assert_eq!(chunks.iter().map(Decoded::item_count).collect::<Vec<_>>(), vec![10, 10, 5]);
    let all: Vec<String> = chunks.iter().flat_map(names).collect();
    let expected: Vec<String> = (0..7).map(|i| format!("a-{i}")).chain((0..18).map(|i| format!("b-{i}"))).collect();
    assert_eq!(all, expected);
    // the first chunk holds 7 spans of "a" and 3 of "b", each under its own resource
    let Decoded::Traces(first) = &chunks[0] else { unreachable!() };
    assert_eq!(first.len(), 2);
    assert_eq!(first[1].resource, spans("b", "b", 0).resource);
    assert_eq!(first[1].scope_spans[0].scope, spans("b", "b", 0).scope_spans[0].scope);
}

#[test]
fn splits_metrics_by_data_point_inside_a_metric() {
    let d = Decoded::Metrics(vec![metrics("svc", vec![gauge("g1", 4), gauge("g2", 5)])]);
    let chunks = split(d, 3);
    assert_eq!(chunks.iter().map(Decoded::item_count).collect::<Vec<_>>(), vec![3, 3, 3]);
    let Decoded::Metrics(second) = &chunks[1] else { unreachable!() };
    let ms = &second[0].scope_metrics[0].metrics;
    assert_eq!(ms.iter().map(|m| (m.name.as_str(), m.size())).collect::<Vec<_>>(), vec![("g1", 1), ("g2", 2)]);
}

#[test]
fn encoded_form_matches_prost() {
    let d = Decoded::Traces(vec![spans("a", "x", 2)]);
    let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
        resource_spans: vec![spans("a", "x", 2)],
    };
    assert_eq!(d.encode_request(), req.encode_to_vec());
    assert_eq!(d.encoded_len(), req.encoded_len());
    assert_eq!(Decoded::decode(Signal::Traces, &d.encode_request()).unwrap(), d);
}
