//! Whether an encoded export request holds any failure at all, read in
//! place from its bytes: a span's status code and event names, a log
//! record's severity. Most batches hold none, and the failure exporters
//! then skip decoding them; the rule is the one in [`super`], and the
//! tests hold the two to the same answers.

use super::Severity;
use crate::otlp::wire::{read_key, read_len, read_varint, skip, WireError};
use crate::signal::{Batch, Signal};

/// `false` only when the batch is encoded and provably holds no failed
/// span (no span failed and not `all_spans`) or no log record at or above
/// `min`; `true` otherwise, including bytes the walk cannot read (decoding
/// them then reports the error).
pub fn may_hold_failures(batch: &Batch, all_spans: bool, min: Severity) -> bool {
    let Some(bytes) = batch.encoded_bytes() else { return true };
    let found = match batch.signal() {
        Signal::Traces if all_spans => return !batch.is_empty(),
        // request.resource_spans.scope_spans.spans
        Signal::Traces => any_at(bytes, &[1, 2, 2], &mut span_failed),
        // request.resource_logs.scope_logs.log_records
        Signal::Logs => any_at(bytes, &[1, 2, 2], &mut |r| log_at_least(r, min)),
        Signal::Metrics => return false,
    };
    found.unwrap_or(true)
}

/// Runs `f` on each message at `path` (the field numbers of nested
/// length-delimited fields under `buf`) until one answers `true`.
fn any_at(buf: &[u8], path: &[u32], f: &mut impl FnMut(&[u8]) -> Result<bool, WireError>) -> Result<bool, WireError> {
    let Some((&field, rest)) = path.split_first() else { return f(buf) };
    let mut pos = 0;
    while pos < buf.len() {
        match read_key(buf, &mut pos)? {
            (n, 2) if n == field => {
                let r = read_len(buf, &mut pos)?;
                if any_at(&buf[r], rest, f)? {
                    return Ok(true);
                }
            }
            (_, wire) => skip(buf, &mut pos, wire)?,
        }
    }
    Ok(false)
}

/// Span: `status` (15) with `code` (3) ERROR (2), or an event (11) whose
/// `name` (2) is `exception`; one pass over the span's fields.
fn span_failed(span: &[u8]) -> Result<bool, WireError> {
    let mut pos = 0;
    while pos < span.len() {
        let failed = match read_key(span, &mut pos)? {
            (15, 2) => last_varint(&span[read_len(span, &mut pos)?], 3)? == Some(2),
            (11, 2) => last_bytes(&span[read_len(span, &mut pos)?], 2)? == Some(b"exception"),
            (_, wire) => {
                skip(span, &mut pos, wire)?;
                false
            }
        };
        if failed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The last value of varint field `field` in `msg` (protobuf: the last wins).
fn last_varint(msg: &[u8], field: u32) -> Result<Option<u64>, WireError> {
    let mut found = None;
    let mut pos = 0;
    while pos < msg.len() {
        match read_key(msg, &mut pos)? {
            (n, 0) if n == field => found = Some(read_varint(msg, &mut pos)?),
            (_, wire) => skip(msg, &mut pos, wire)?,
        }
    }
    Ok(found)
}

/// The last value of length-delimited field `field` in `msg`.
fn last_bytes(msg: &[u8], field: u32) -> Result<Option<&[u8]>, WireError> {
    let mut found = None;
    let mut pos = 0;
    while pos < msg.len() {
        match read_key(msg, &mut pos)? {
            (n, 2) if n == field => found = Some(&msg[read_len(msg, &mut pos)?]),
            (_, wire) => skip(msg, &mut pos, wire)?,
        }
    }
    Ok(found)
}

/// Log record: `severity_number` (2), or when it is 0 the
/// `severity_text` (3) read as a severity name.
fn log_at_least(record: &[u8], min: Severity) -> Result<bool, WireError> {
    let (mut number, mut text) = (0i32, &[][..]);
    let mut pos = 0;
    while pos < record.len() {
        match read_key(record, &mut pos)? {
            (2, 0) => number = read_varint(record, &mut pos)? as i32,
            (3, 2) => text = &record[read_len(record, &mut pos)?],
            (_, wire) => skip(record, &mut pos, wire)?,
        }
    }
    Ok(Severity::of_record(number, std::str::from_utf8(text).unwrap_or("")) >= min.0)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::trace::v1::{span::Event, Status};
    use prost::Message;

    use super::*;
    use crate::otlp::data::Decoded;
    use crate::testkit::spans;

    fn traces(edit: impl Fn(usize, &mut opentelemetry_proto::tonic::trace::v1::Span)) -> Batch {
        let mut rs = vec![spans("a", "x", 3), spans("b", "y", 4)];
        for (i, sp) in rs.iter_mut().flat_map(|r| &mut r.scope_spans).flat_map(|s| &mut s.spans).enumerate() {
            edit(i, sp);
        }
        let bytes = ExportTraceServiceRequest { resource_spans: rs }.encode_to_vec();
        Batch::from_encoded(Signal::Traces, Bytes::from(bytes)).unwrap()
    }

    fn decoded_rule(batch: &Batch, all: bool, min: Severity) -> bool {
        match batch.decoded().unwrap() {
            Decoded::Traces(rs) => !super::super::failed_spans(&rs, all).is_empty(),
            Decoded::Logs(rl) => !super::super::error_logs(&rl, min).is_empty(),
            Decoded::Metrics(_) => false,
        }
    }

    fn event(name: &str) -> Event {
        Event { name: name.into(), ..Default::default() }
    }

    #[test]
    fn spans_agree_with_the_decoded_rule() {
        let status = |code| Some(Status { code, message: "m".into() });
        let cases: Vec<(&str, Batch, bool)> = vec![
            ("plain spans", traces(|_, _| {}), false),
            ("status OK and UNSET", traces(|i, s| s.status = status(i as i32 % 2)), false),
            ("one ERROR, last span", traces(|i, s| s.status = status(if i == 6 { 2 } else { 1 })), true),
            ("other events", traces(|_, s| s.events = vec![event("retry"), event("exceptions")]), false),
            (
                "exception event after another",
                traces(|i, s| {
                    if i == 4 {
                        s.events = vec![event("retry"), event("exception")];
                    }
                }),
                true,
            ),
        ];
        for (what, batch, want) in cases {
            assert_eq!(decoded_rule(&batch, false, Severity::default()), want, "{what}: the decoded rule");
            assert_eq!(may_hold_failures(&batch, false, Severity::default()), want, "{what}");
            assert!(may_hold_failures(&batch, true, Severity::default()), "{what}: all spans mode");
        }
    }

    #[test]
    fn logs_agree_with_the_decoded_rule() {
        let batch = |records: Vec<LogRecord>| {
            let rl = ResourceLogs {
                scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
                ..Default::default()
            };
            let bytes = ExportLogsServiceRequest { resource_logs: vec![rl] }.encode_to_vec();
            Batch::from_encoded(Signal::Logs, Bytes::from(bytes)).unwrap()
        };
        let rec =
            |n: i32, text: &str| LogRecord { severity_number: n, severity_text: text.into(), ..Default::default() };
        let info = || vec![rec(9, "INFO"), rec(0, "warn"), rec(0, ""), rec(0, "nonsense")];
        let cases = [
            ("info and warn", info(), Severity::default(), false),
            ("an ERROR number", [info(), vec![rec(17, "")]].concat(), Severity::default(), true),
            ("ERROR only as text", [info(), vec![rec(0, "error")]].concat(), Severity::default(), true),
            ("text ignored when the number is set", vec![rec(9, "ERROR")], Severity::default(), false),
            ("warn text at min WARN", info(), Severity(13), true),
            ("FATAL2", vec![rec(22, "")], Severity(21), true),
        ];
        for (what, records, min, want) in cases {
            let b = batch(records);
            assert_eq!(decoded_rule(&b, false, min), want, "{what}: the decoded rule");
            assert_eq!(may_hold_failures(&b, false, min), want, "{what}");
        }
    }

    #[test]
    fn unreadable_or_decoded_batches_are_left_to_the_decoder() {
        let decoded = Batch::from_decoded(Decoded::Traces(vec![spans("a", "x", 2)]));
        assert!(may_hold_failures(&decoded, false, Severity::default()));
        // a span whose status field claims more bytes than the span has
        let garbage = [0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x7a, 0x09];
        assert!(any_at(&garbage, &[1, 2, 2], &mut span_failed).is_err());
    }
}
