//! Reads the fields the connector needs straight from the encoded trace
//! export request, borrowing from its bytes: resource attributes, and per
//! span its ids, name, kind, times, status code and attributes (each value
//! kept as its encoded `AnyValue`). Events, links, scopes and everything else
//! are skipped; nothing is allocated per span.

use crate::otlp::wire::{read_key, read_len, read_varint, skip, WireError};

/// One attribute: its key and its value as an encoded `AnyValue`.
#[derive(Debug, Clone, Copy)]
pub struct Attr<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

#[derive(Debug, Default)]
pub struct SpanView<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub name: &'a str,
    pub kind: i32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub status_code: i32,
}

pub fn find<'a>(attrs: &[Attr<'a>], key: &str) -> Option<&'a [u8]> {
    attrs.iter().find(|a| a.key == key.as_bytes()).map(|a| a.value)
}

fn fixed64(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let bytes = buf.get(*pos..*pos + 8).ok_or(WireError("truncated fixed64"))?;
    *pos += 8;
    Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// Calls `f` with the bytes of each `ResourceSpans` of an export request.
pub fn for_each_resource<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(&'a [u8]) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut pos = 0;
    while pos < buf.len() {
        match read_key(buf, &mut pos)? {
            (1, 2) => {
                let r = read_len(buf, &mut pos)?;
                f(&buf[r])?;
            }
            (_, wire) => skip(buf, &mut pos, wire)?,
        }
    }
    Ok(())
}

/// Appends the `KeyValue`s in a repeated field's entry `kv` to `out`.
fn push_attr<'a>(kv: &'a [u8], out: &mut Vec<Attr<'a>>) -> Result<(), WireError> {
    let mut pos = 0;
    let mut attr = Attr { key: &[], value: &[] };
    while pos < kv.len() {
        match read_key(kv, &mut pos)? {
            (1, 2) => attr.key = &kv[read_len(kv, &mut pos)?],
            (2, 2) => attr.value = &kv[read_len(kv, &mut pos)?],
            (_, wire) => skip(kv, &mut pos, wire)?,
        }
    }
    out.push(attr);
    Ok(())
}

/// The attributes of a `ResourceSpans`' resource (field 1).
pub fn resource_attributes<'a>(rs: &'a [u8], out: &mut Vec<Attr<'a>>) -> Result<(), WireError> {
    out.clear();
    let mut pos = 0;
    while pos < rs.len() {
        match read_key(rs, &mut pos)? {
            (1, 2) => {
                let res = &rs[read_len(rs, &mut pos)?];
                let mut p = 0;
                while p < res.len() {
                    match read_key(res, &mut p)? {
                        (1, 2) => push_attr(&res[read_len(res, &mut p)?], out)?,
                        (_, wire) => skip(res, &mut p, wire)?,
                    }
                }
            }
            (_, wire) => skip(rs, &mut pos, wire)?,
        }
    }
    Ok(())
}

/// Calls `f` with each span of a `ResourceSpans` and its attributes (`attrs`
/// is reused from span to span).
pub fn for_each_span<'a>(
    rs: &'a [u8],
    attrs: &mut Vec<Attr<'a>>,
    mut f: impl FnMut(&SpanView<'a>, &[Attr<'a>]),
) -> Result<(), WireError> {
    let mut pos = 0;
    while pos < rs.len() {
        let (field, wire) = read_key(rs, &mut pos)?;
        if (field, wire) != (2, 2) {
            skip(rs, &mut pos, wire)?;
            continue;
        }
        let scope = &rs[read_len(rs, &mut pos)?];
        let mut p = 0;
        while p < scope.len() {
            let (field, wire) = read_key(scope, &mut p)?;
            if (field, wire) != (2, 2) {
                skip(scope, &mut p, wire)?;
                continue;
            }
            let span = &scope[read_len(scope, &mut p)?];
            let view = read_span(span, attrs)?;
            f(&view, attrs);
        }
    }
    Ok(())
}

fn read_span<'a>(span: &'a [u8], attrs: &mut Vec<Attr<'a>>) -> Result<SpanView<'a>, WireError> {
    attrs.clear();
    let mut v = SpanView::default();
    let mut pos = 0;
    while pos < span.len() {
        match read_key(span, &mut pos)? {
            (1, 2) => v.trace_id = &span[read_len(span, &mut pos)?],
            (2, 2) => v.span_id = &span[read_len(span, &mut pos)?],
            (5, 2) => {
                let r = read_len(span, &mut pos)?;
                v.name = simdutf8::basic::from_utf8(&span[r]).map_err(|_| WireError("span name is not UTF-8"))?;
            }
            (6, 0) => v.kind = read_varint(span, &mut pos)? as i32,
            (7, 1) => v.start_time_unix_nano = fixed64(span, &mut pos)?,
            (8, 1) => v.end_time_unix_nano = fixed64(span, &mut pos)?,
            (9, 2) => push_attr(&span[read_len(span, &mut pos)?], attrs)?,
            (15, 2) => {
                let status = &span[read_len(span, &mut pos)?];
                let mut p = 0;
                while p < status.len() {
                    match read_key(status, &mut p)? {
                        (3, 0) => v.status_code = read_varint(status, &mut p)? as i32,
                        (_, wire) => skip(status, &mut p, wire)?,
                    }
                }
            }
            (_, wire) => skip(span, &mut pos, wire)?,
        }
    }
    Ok(v)
}

/// otelcol's `traceutil.SpanKindStr`.
pub fn kind_str(kind: i32) -> &'static str {
    match kind {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => "SPAN_KIND_UNSPECIFIED",
    }
}

/// otelcol's `traceutil.StatusCodeStr`.
pub fn status_str(code: i32) -> &'static str {
    match code {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => "STATUS_CODE_UNSET",
    }
}
