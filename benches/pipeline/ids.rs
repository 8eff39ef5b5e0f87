//! The sink side of `signals`: walks an export request of any signal, in
//! protobuf, to each item's id (span and log record `span_id`, a metric data
//! point's `bench.id` attribute) without decoding anything else.

use otelstack::signal::Signal;

use super::signals::{unhex_byte, ID_ATTRIBUTE};

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Calls `f(field, payload)` for each length-delimited field and skips the
/// others. False on malformed input or when `f` says so.
fn fields<'a>(buf: &'a [u8], mut f: impl FnMut(u64, &'a [u8]) -> bool) -> bool {
    let mut pos = 0;
    while pos < buf.len() {
        let Some(key) = varint(buf, &mut pos) else { return false };
        let ok = match key & 7 {
            0 => varint(buf, &mut pos).is_some(),
            1 | 5 => {
                pos += if key & 7 == 1 { 8 } else { 4 };
                pos <= buf.len()
            }
            2 => {
                let Some(len) = varint(buf, &mut pos) else { return false };
                let end = pos.saturating_add(len as usize);
                if end > buf.len() {
                    return false;
                }
                let payload = &buf[pos..end];
                pos = end;
                f(key >> 3, payload)
            }
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The payloads of field `want` of every message at `path` below `buf`.
fn each_at<'a>(buf: &'a [u8], path: &[u64], f: &mut dyn FnMut(&'a [u8])) -> bool {
    match path.split_first() {
        None => {
            f(buf);
            true
        }
        Some((&want, rest)) => fields(buf, |field, sub| field != want || each_at(sub, rest, f)),
    }
}

/// Walks an export request of `signal` (protobuf, uncompressed) and calls
/// `on_item` with each item's 8-byte id (empty when an item has none).
/// Returns false on malformed input.
pub fn walk_item_ids(signal: Signal, body: &[u8], on_item: &mut dyn FnMut(&[u8])) -> bool {
    match signal {
        // ResourceSpans(1) -> ScopeSpans(2) -> Span(2) -> span_id(2)
        // ResourceLogs(1) -> ScopeLogs(2) -> LogRecord(2) -> span_id(10)
        Signal::Traces | Signal::Logs => {
            let id_field = if signal == Signal::Traces { 2 } else { 10 };
            let mut items_ok = true;
            let walked = each_at(body, &[1, 2, 2], &mut |item| {
                let mut id: &[u8] = &[];
                items_ok &= fields(item, |f, v| {
                    if f == id_field {
                        id = v;
                    }
                    true
                });
                on_item(id);
            });
            walked && items_ok
        }
        // ResourceMetrics(1) -> ScopeMetrics(2) -> Metric(2) -> gauge(5) | sum(7)
        // -> NumberDataPoint(1) -> attributes(7) `bench.id` -> AnyValue(2) -> string(1)
        Signal::Metrics => each_at(body, &[1, 2, 2], &mut |metric| {
            fields(metric, |f, data| {
                if f == 5 || f == 7 {
                    each_at(data, &[1], &mut |point| on_item(&point_id(point).unwrap_or_default()));
                }
                true
            });
        }),
    }
}

/// The `bench.id` attribute of a NumberDataPoint, decoded from hex.
fn point_id(point: &[u8]) -> Option<[u8; 8]> {
    let mut found = None;
    each_at(point, &[7], &mut |kv| {
        let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
        fields(kv, |f, v| {
            match f {
                1 => key = v,
                2 => value = v,
                _ => {}
            }
            true
        });
        if key == ID_ATTRIBUTE.as_bytes() {
            fields(value, |f, v| {
                if f == 1 && v.len() == 16 {
                    let mut id = [0u8; 8];
                    for (j, b) in id.iter_mut().enumerate() {
                        *b = unhex_byte(&v[2 * j..2 * j + 2]);
                    }
                    found = Some(id);
                }
                true
            });
        }
    });
    found
}
