//! A schema-driven walk over encoded OTLP export requests.
//!
//! Receivers call [`inspect`] once per request: it checks that the bytes are a
//! well-formed OTLP message (framing, wire types, UTF-8 strings, nesting depth)
//! and counts the items (spans, metric data points, log records) without
//! allocating or decoding anything. Untouched requests then travel through the
//! pipeline as bytes, and the fact that `Export*ServiceRequest` is one repeated
//! field 1 lets batches be merged by concatenation.

use bytes::Bytes;

use crate::signal::{Batch, Signal};

/// Nesting deeper than this is refused; it matches prost's recursion limit, so
/// anything accepted here can also be decoded when a processor needs it.
pub const MAX_DEPTH: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protobuf: {0}")]
pub struct WireError(pub &'static str);

#[derive(Clone, Copy)]
enum Kind {
    Varint,
    Fixed32,
    Fixed64,
    Str,
    Bytes,
    /// a trace or span id: empty, or exactly this many bytes
    Id(usize),
    /// repeated numeric field: packed (length-delimited) or one value per tag
    Packed(u8),
    Msg(&'static Schema),
}

struct Schema {
    /// each occurrence of this message is one item of the signal
    counted: bool,
    /// the message fields of a oneof that hold items: a later one replaces an
    /// earlier one when decoding (the last wins), and so do their items here
    oneof: &'static [u32],
    fields: &'static [(u32, Kind)],
}

impl Schema {
    #[inline]
    fn kind(&self, num: u32) -> Option<Kind> {
        // Most schemas list fields 1, 2, 3, ... in order (spans, attributes,
        // values): field n is then at index n - 1, no scan needed.
        match self.fields.get((num as usize).wrapping_sub(1)) {
            Some(&(n, kind)) if n == num => Some(kind),
            _ => self.fields.iter().find(|(n, _)| *n == num).map(|(_, k)| *k),
        }
    }
}

const fn msg(fields: &'static [(u32, Kind)]) -> Schema {
    Schema { counted: false, oneof: &[], fields }
}
const fn item(fields: &'static [(u32, Kind)]) -> Schema {
    Schema { counted: true, oneof: &[], fields }
}

use Kind::{Bytes as B, Fixed32 as F32, Fixed64 as F64, Msg as M, Str as S, Varint as V};
const TID: Kind = Kind::Id(16);
const SID: Kind = Kind::Id(8);

static ANY_VALUE: Schema =
    msg(&[(1, S), (2, V), (3, V), (4, F64), (5, M(&ARRAY_VALUE)), (6, M(&KV_LIST)), (7, B), (8, V)]);
static ARRAY_VALUE: Schema = msg(&[(1, M(&ANY_VALUE))]);
static KV_LIST: Schema = msg(&[(1, M(&KEY_VALUE))]);
static KEY_VALUE: Schema = msg(&[(1, S), (2, M(&ANY_VALUE)), (3, V)]);
static SCOPE: Schema = msg(&[(1, S), (2, S), (3, M(&KEY_VALUE)), (4, V)]);
static ENTITY_REF: Schema = msg(&[(1, S), (2, S), (3, S), (4, S)]);
static RESOURCE: Schema = msg(&[(1, M(&KEY_VALUE)), (2, V), (3, M(&ENTITY_REF))]);

static STATUS: Schema = msg(&[(2, S), (3, V)]);
static EVENT: Schema = msg(&[(1, F64), (2, S), (3, M(&KEY_VALUE)), (4, V)]);
static LINK: Schema = msg(&[(1, TID), (2, SID), (3, S), (4, M(&KEY_VALUE)), (5, V), (6, F32)]);
static SPAN: Schema = item(&[
    (1, TID),
    (2, SID),
    (3, S),
    (4, SID),
    (5, S),
    (6, V),
    (7, F64),
    (8, F64),
    (9, M(&KEY_VALUE)),
    (10, V),
    (11, M(&EVENT)),
    (12, V),
    (13, M(&LINK)),
    (14, V),
    (15, M(&STATUS)),
    (16, F32),
]);
static SCOPE_SPANS: Schema = msg(&[(1, M(&SCOPE)), (2, M(&SPAN)), (3, S)]);
static RESOURCE_SPANS: Schema = msg(&[(1, M(&RESOURCE)), (2, M(&SCOPE_SPANS)), (3, S)]);
static TRACES_REQUEST: Schema = msg(&[(1, M(&RESOURCE_SPANS))]);

static LOG_RECORD: Schema = item(&[
    (1, F64),
    (11, F64),
    (2, V),
    (3, S),
    (5, M(&ANY_VALUE)),
    (6, M(&KEY_VALUE)),
    (7, V),
    (8, F32),
    (9, TID),
    (10, SID),
    (12, S),
]);
static SCOPE_LOGS: Schema = msg(&[(1, M(&SCOPE)), (2, M(&LOG_RECORD)), (3, S)]);
static RESOURCE_LOGS: Schema = msg(&[(1, M(&RESOURCE)), (2, M(&SCOPE_LOGS)), (3, S)]);
static LOGS_REQUEST: Schema = msg(&[(1, M(&RESOURCE_LOGS))]);

static EXEMPLAR: Schema = msg(&[(7, M(&KEY_VALUE)), (2, F64), (3, F64), (6, F64), (4, SID), (5, TID)]);
static NUMBER_DP: Schema =
    item(&[(7, M(&KEY_VALUE)), (2, F64), (3, F64), (4, F64), (6, F64), (5, M(&EXEMPLAR)), (8, V)]);
static HISTOGRAM_DP: Schema = item(&[
    (9, M(&KEY_VALUE)),
    (2, F64),
    (3, F64),
    (4, F64),
    (5, F64),
    (6, Kind::Packed(1)),
    (7, Kind::Packed(1)),
    (8, M(&EXEMPLAR)),
    (10, V),
    (11, F64),
    (12, F64),
]);
static BUCKETS: Schema = msg(&[(1, V), (2, Kind::Packed(0))]);
static EXP_HISTOGRAM_DP: Schema = item(&[
    (1, M(&KEY_VALUE)),
    (2, F64),
    (3, F64),
    (4, F64),
    (5, F64),
    (6, V),
    (7, F64),
    (8, M(&BUCKETS)),
    (9, M(&BUCKETS)),
    (10, V),
    (11, M(&EXEMPLAR)),
    (12, F64),
    (13, F64),
    (14, F64),
]);
static QUANTILE: Schema = msg(&[(1, F64), (2, F64)]);
static SUMMARY_DP: Schema =
    item(&[(7, M(&KEY_VALUE)), (2, F64), (3, F64), (4, F64), (5, F64), (6, M(&QUANTILE)), (8, V)]);
static GAUGE: Schema = msg(&[(1, M(&NUMBER_DP))]);
static SUM: Schema = msg(&[(1, M(&NUMBER_DP)), (2, V), (3, V)]);
static HISTOGRAM: Schema = msg(&[(1, M(&HISTOGRAM_DP)), (2, V)]);
static EXP_HISTOGRAM: Schema = msg(&[(1, M(&EXP_HISTOGRAM_DP)), (2, V)]);
static SUMMARY: Schema = msg(&[(1, M(&SUMMARY_DP))]);
static METRIC: Schema = Schema {
    counted: false,
    oneof: &[5, 7, 9, 10, 11],
    fields: &[
        (1, S),
        (2, S),
        (3, S),
        (5, M(&GAUGE)),
        (7, M(&SUM)),
        (9, M(&HISTOGRAM)),
        (10, M(&EXP_HISTOGRAM)),
        (11, M(&SUMMARY)),
        (12, M(&KEY_VALUE)),
    ],
};
static SCOPE_METRICS: Schema = msg(&[(1, M(&SCOPE)), (2, M(&METRIC)), (3, S)]);
static RESOURCE_METRICS: Schema = msg(&[(1, M(&RESOURCE)), (2, M(&SCOPE_METRICS)), (3, S)]);
static METRICS_REQUEST: Schema = msg(&[(1, M(&RESOURCE_METRICS))]);

fn request_schema(signal: Signal) -> &'static Schema {
    match signal {
        Signal::Traces => &TRACES_REQUEST,
        Signal::Metrics => &METRICS_REQUEST,
        Signal::Logs => &LOGS_REQUEST,
    }
}

/// Validates an encoded `Export{Trace,Metrics,Logs}ServiceRequest` and returns
/// how many items (spans, data points, log records) it carries.
pub fn inspect(signal: Signal, buf: &[u8]) -> Result<usize, WireError> {
    let mut count = 0;
    walk(request_schema(signal), buf, 0, &mut count)?;
    Ok(count)
}

/// Requests up to this size are copied into a buffer of their own size.
const COMPACT_BELOW: usize = 32 * 1024;

impl Batch {
    /// Wraps an encoded export request after validating it with [`inspect`]
    /// and counting its items.
    ///
    /// A small request is copied into an allocation of its own size first:
    /// the buffer a receiver read it into (tonic's is at least 8 KiB, hyper
    /// keeps its read buffer) would otherwise stay allocated as long as the
    /// batch lives, in the batch processor or a sending queue. 8,000
    /// one-span requests of 384 bytes held 83 MiB that way.
    pub fn from_encoded(signal: Signal, bytes: Bytes) -> Result<Batch, WireError> {
        let items = inspect(signal, &bytes)?;
        let bytes = if bytes.len() <= COMPACT_BELOW { Bytes::copy_from_slice(&bytes) } else { bytes };
        Ok(Batch::from_validated(signal, items, bytes))
    }
}

/// Reads a varint at `*pos`, advancing it.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    // Most keys and lengths in OTLP are below 128, many of the rest below
    // 16,384: one and two bytes are settled here without the loop.
    match buf.get(*pos..) {
        Some([b0, ..]) if *b0 < 0x80 => {
            *pos += 1;
            return Ok(u64::from(*b0));
        }
        Some([b0, b1, ..]) if *b1 < 0x80 => {
            *pos += 2;
            return Ok(u64::from(b0 & 0x7f) | (u64::from(*b1) << 7));
        }
        _ => {}
    }
    read_varint_slow(buf, pos)
}

/// The general case of [`read_varint`]: up to ten bytes, refusing overflow.
#[cold]
fn read_varint_slow(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut value: u64 = 0;
    for shift in 0..10 {
        let byte = *buf.get(*pos).ok_or(WireError("truncated varint"))?;
        *pos += 1;
        // the tenth byte holds bit 63 only; prost refuses more, and so must we
        if shift == 9 && byte > 1 {
            return Err(WireError("varint overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7f) << (shift * 7);
        if byte < 0x80 {
            return Ok(value);
        }
    }
    Err(WireError("varint longer than 10 bytes"))
}

/// Reads a field key at `*pos`: (field number, wire type).
#[inline]
pub fn read_key(buf: &[u8], pos: &mut usize) -> Result<(u32, u8), WireError> {
    let key = read_varint(buf, pos)?;
    let num = key >> 3;
    if num == 0 || num > u64::from(u32::MAX >> 3) {
        return Err(WireError("invalid field number"));
    }
    Ok((num as u32, (key & 7) as u8))
}

/// Reads a length-delimited payload at `*pos` and returns its range.
#[inline]
pub fn read_len(buf: &[u8], pos: &mut usize) -> Result<std::ops::Range<usize>, WireError> {
    let len = read_varint(buf, pos)?;
    let start = *pos;
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .filter(|end| *end <= buf.len())
        .ok_or(WireError("length-delimited field runs past the end"))?;
    *pos = end;
    Ok(start..end)
}

/// Skips a value of the given wire type (for fields the schema does not know).
pub fn skip(buf: &[u8], pos: &mut usize, wire: u8) -> Result<(), WireError> {
    match wire {
        0 => read_varint(buf, pos).map(drop),
        1 => advance(buf, pos, 8),
        2 => read_len(buf, pos).map(drop),
        5 => advance(buf, pos, 4),
        _ => Err(WireError("unsupported wire type")),
    }
}

fn advance(buf: &[u8], pos: &mut usize, n: usize) -> Result<(), WireError> {
    if buf.len() - *pos < n {
        return Err(WireError("truncated fixed-width field"));
    }
    *pos += n;
    Ok(())
}

/// UTF-8 check with an ASCII fast path: most OTLP strings are short ASCII
/// names and values, for which a full validator's set-up costs more than
/// the check (the standard one handles strings under 64 bytes itself).
fn is_utf8(s: &[u8]) -> bool {
    let mut chunks = s.chunks_exact(8);
    let mut high = 0u64;
    for c in &mut chunks {
        high |= u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    let tail = chunks.remainder().iter().fold(0u8, |acc, b| acc | b);
    if high & 0x8080_8080_8080_8080 == 0 && tail & 0x80 == 0 {
        return true;
    }
    simdutf8::basic::from_utf8(s).is_ok()
}

fn walk(schema: &Schema, buf: &[u8], depth: usize, count: &mut usize) -> Result<(), WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError("message nested too deeply"));
    }
    let mut pos = 0;
    // the oneof field seen last and the items counted under it
    let mut variant: Option<(u32, usize)> = None;
    while pos < buf.len() {
        let (num, wire) = read_key(buf, &mut pos)?;
        let Some(kind) = schema.kind(num) else {
            skip(buf, &mut pos, wire)?;
            continue;
        };
        match (kind, wire) {
            (Kind::Varint, 0) | (Kind::Packed(0), 0) => {
                read_varint(buf, &mut pos)?;
            }
            (Kind::Fixed64, 1) | (Kind::Packed(1), 1) => advance(buf, &mut pos, 8)?,
            (Kind::Fixed32, 5) => advance(buf, &mut pos, 4)?,
            (Kind::Bytes, 2) => {
                read_len(buf, &mut pos)?;
            }
            (Kind::Id(len), 2) => {
                let range = read_len(buf, &mut pos)?;
                if !range.is_empty() && range.len() != len {
                    return Err(WireError(if len == 16 {
                        "trace id must be 16 bytes"
                    } else {
                        "span id must be 8 bytes"
                    }));
                }
            }
            (Kind::Str, 2) => {
                let range = read_len(buf, &mut pos)?;
                if !is_utf8(&buf[range]) {
                    return Err(WireError("string field is not valid UTF-8"));
                }
            }
            (Kind::Packed(elem), 2) => {
                let range = read_len(buf, &mut pos)?;
                check_packed(&buf[range], elem)?;
            }
            (Kind::Msg(sub), 2) => {
                let range = read_len(buf, &mut pos)?;
                let before = *count;
                if sub.counted {
                    *count += 1;
                }
                walk(sub, &buf[range], depth + 1, count)?;
                if schema.oneof.contains(&num) {
                    let items = *count - before;
                    variant = match variant {
                        Some((field, earlier)) if field == num => Some((field, earlier + items)),
                        Some((_, replaced)) => {
                            *count -= replaced;
                            Some((num, items))
                        }
                        None => Some((num, items)),
                    };
                }
            }
            _ => return Err(WireError("field has the wrong wire type")),
        }
    }
    Ok(())
}

fn check_packed(buf: &[u8], elem_wire: u8) -> Result<(), WireError> {
    if elem_wire == 1 {
        return if buf.len().is_multiple_of(8) {
            Ok(())
        } else {
            Err(WireError("packed fixed64 length is not a multiple of 8"))
        };
    }
    let mut pos = 0;
    while pos < buf.len() {
        read_varint(buf, &mut pos)?;
    }
    Ok(())
}

/// Splits an encoded request into the encoded bytes of each top-level
/// `Resource*` entry (field 1), without copying.
pub fn resource_entries(buf: &[u8]) -> Result<Vec<std::ops::Range<usize>>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let (num, wire) = read_key(buf, &mut pos)?;
        skip(buf, &mut pos, wire)?;
        if num == 1 && wire == 2 {
            out.push(start..pos);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
