//! OTLP/JSON decoding never panics, and an accepted batch is a valid encoded
//! request whose item count the wire walker and prost both confirm.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otelstack::otlp::data::Decoded;
use otelstack::otlp::{decode_json, wire};
use otelstack::signal::Signal;

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let Ok(batch) = decode_json(signal, data) else { continue };
        let bytes = batch.encoded();
        let n = wire::inspect(signal, &bytes).expect("an accepted JSON batch re-inspects");
        assert_eq!(n, batch.items(), "{signal}: batch count differs from a re-inspection");
        let decoded = Decoded::decode(signal, &bytes).expect("an accepted JSON batch decodes with prost");
        assert_eq!(decoded.item_count(), n, "{signal}: prost count differs from the wire count");
    }
});
