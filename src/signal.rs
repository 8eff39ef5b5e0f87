//! The unit of work that flows through every pipeline: a [`Batch`] of one
//! [`Signal`], kept as the encoded request bytes until a component needs the
//! decoded form, and re-encoded only when it was changed.

use bytes::{Bytes, BytesMut};
use prost::Message;

use crate::otlp::data::{self, Decoded};
use crate::otlp::wire::{self, WireError};

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

    /// The pipeline type name used in `service.pipelines` ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|sig| sig.as_str() == s)
    }

    /// The item noun used in otelcol's self-metric names (`accepted_spans`...).
    pub fn item_noun(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "metric_points",
            Signal::Logs => "log_records",
        }
    }

    /// The gRPC method path of the OTLP export service.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }

    /// The default OTLP/HTTP path.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
enum Payload {
    /// an encoded `Export*ServiceRequest` (a run of field-1 entries)
    Encoded(Bytes),
    Decoded(Decoded),
}

/// A batch of telemetry of one signal with its item count.
#[derive(Debug, Clone)]
pub struct Batch {
    signal: Signal,
    items: usize,
    payload: Payload,
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("invalid protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl Batch {
    /// Wraps an encoded export request after validating it and counting items.
    pub fn from_encoded(signal: Signal, bytes: Bytes) -> Result<Batch, WireError> {
        let items = wire::inspect(signal, &bytes)?;
        Ok(Batch { signal, items, payload: Payload::Encoded(bytes) })
    }

    pub fn from_decoded(decoded: Decoded) -> Batch {
        Batch { signal: decoded.signal(), items: decoded.item_count(), payload: Payload::Decoded(decoded) }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Spans, metric data points or log records in this batch.
    pub fn items(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        match &self.payload {
            Payload::Encoded(b) => b.is_empty(),
            Payload::Decoded(d) => d.is_empty(),
        }
    }

    /// The encoded export request; free when the batch was never decoded.
    pub fn encoded(&self) -> Bytes {
        match &self.payload {
            Payload::Encoded(b) => b.clone(),
            Payload::Decoded(d) => Bytes::from(d.encode_request()),
        }
    }

    /// The encoded export request when the batch holds it (never encodes).
    pub fn encoded_bytes(&self) -> Option<&Bytes> {
        match &self.payload {
            Payload::Encoded(b) => Some(b),
            Payload::Decoded(_) => None,
        }
    }

    /// The encoded size in bytes (encodes when decoded).
    pub fn encoded_len(&self) -> usize {
        match &self.payload {
            Payload::Encoded(b) => b.len(),
            Payload::Decoded(d) => d.encoded_len(),
        }
    }

    /// Turns the batch into its encoded form in place, so that fan-out
    /// consumers share one buffer.
    pub fn make_encoded(&mut self) {
        if let Payload::Decoded(d) = &self.payload {
            self.payload = Payload::Encoded(Bytes::from(d.encode_request()));
        }
    }

    /// The decoded form, decoding on first use. Callers that change items
    /// must call [`Batch::recount`] afterwards.
    pub fn decoded_mut(&mut self) -> Result<&mut Decoded, BatchError> {
        if let Payload::Encoded(bytes) = &self.payload {
            let decoded = Decoded::decode(self.signal, bytes)?;
            self.payload = Payload::Decoded(decoded);
        }
        match &mut self.payload {
            Payload::Decoded(d) => Ok(d),
            Payload::Encoded(_) => unreachable!("decoded above"),
        }
    }

    /// A decoded copy for read-only consumers (debug output).
    pub fn decoded(&self) -> Result<Decoded, BatchError> {
        match &self.payload {
            Payload::Encoded(bytes) => Ok(Decoded::decode(self.signal, bytes)?),
            Payload::Decoded(d) => Ok(d.clone()),
        }
    }

    pub fn recount(&mut self) {
        if let Payload::Decoded(d) = &self.payload {
            self.items = d.item_count();
        }
    }

    /// Concatenates batches of one signal into one. Encoded requests are
    /// merged by appending their bytes: a request is a repeated field 1.
    pub fn merge(signal: Signal, parts: Vec<Batch>) -> Batch {
        let items = parts.iter().map(|b| b.items).sum();
        let len = parts.iter().map(Batch::encoded_len).sum();
        let mut buf = BytesMut::with_capacity(len);
        for part in parts {
            debug_assert_eq!(part.signal, signal);
            match part.payload {
                Payload::Encoded(b) => buf.extend_from_slice(&b),
                Payload::Decoded(d) => d.encode_request_into(&mut buf),
            }
        }
        Batch { signal, items, payload: Payload::Encoded(buf.freeze()) }
    }

    /// Splits into batches of at most `max` items, preserving order; splits
    /// inside a resource or scope (and a metric's data points) when needed.
    pub fn split(self, max: usize) -> Result<Vec<Batch>, BatchError> {
        if max == 0 || self.items <= max {
            return Ok(vec![self]);
        }
        let mut this = self;
        let signal = this.signal;
        let decoded = std::mem::replace(this.decoded_mut()?, Decoded::empty(signal));
        Ok(data::split(decoded, max).into_iter().map(Batch::from_decoded).collect())
    }
}

/// Encodes a protobuf message to `Bytes`.
pub fn encode_message<M: Message>(msg: &M) -> Bytes {
    Bytes::from(msg.encode_to_vec())
}
