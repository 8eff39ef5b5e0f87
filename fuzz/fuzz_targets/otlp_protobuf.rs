//! The wire walker against prost: `wire::inspect` never panics, and whatever
//! it accepts prost decodes too, with exactly the item count it reported.

#![no_main]

use libfuzzer_sys::fuzz_target;
use otelstack::otlp::data::Decoded;
use otelstack::otlp::wire;
use otelstack::signal::Signal;

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let Ok(n) = wire::inspect(signal, data) else { continue };
        let decoded = match Decoded::decode(signal, data) {
            Ok(d) => d,
            Err(e) => panic!("inspect accepted {n} {signal} items but prost refused the bytes: {e}"),
        };
        assert_eq!(decoded.item_count(), n, "inspect and prost disagree on the {signal} item count");
    }
});
