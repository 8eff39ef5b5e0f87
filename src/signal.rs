//! The unit of work that flows through every pipeline: a [`Batch`] of one
//! [`Signal`], kept as the encoded request bytes until a component needs the
//! [`Decoded`] form, and re-encoded only when it was changed.
//!
//! This module is the bottom of the crate and imports nothing from it. The
//! OTLP code builds on it: the wire walker adds [`Batch::from_encoded`]
//! (validate and count) in `otlp::wire`, the decoded forms add the
//! signal-generic access and [`Batch::split`] in `otlp::data`.

use bytes::{Bytes, BytesMut};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric, ResourceMetrics};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

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

/// Decoded resource entries of one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    Traces(Vec<ResourceSpans>),
    Metrics(Vec<ResourceMetrics>),
    Logs(Vec<ResourceLogs>),
}

/// Runs `$body` with `$v` bound to the inner vector, whatever the signal.
macro_rules! each_signal {
    ($d:expr, $v:ident => $body:expr) => {
        match $d {
            $crate::signal::Decoded::Traces($v) => $body,
            $crate::signal::Decoded::Metrics($v) => $body,
            $crate::signal::Decoded::Logs($v) => $body,
        }
    };
}
pub(crate) use each_signal;

impl Decoded {
    pub fn empty(signal: Signal) -> Decoded {
        match signal {
            Signal::Traces => Decoded::Traces(Vec::new()),
            Signal::Metrics => Decoded::Metrics(Vec::new()),
            Signal::Logs => Decoded::Logs(Vec::new()),
        }
    }

    pub fn decode(signal: Signal, bytes: &[u8]) -> Result<Decoded, prost::DecodeError> {
        Ok(match signal {
            Signal::Traces => Decoded::Traces(ExportTraceServiceRequest::decode(bytes)?.resource_spans),
            Signal::Metrics => Decoded::Metrics(ExportMetricsServiceRequest::decode(bytes)?.resource_metrics),
            Signal::Logs => Decoded::Logs(ExportLogsServiceRequest::decode(bytes)?.resource_logs),
        })
    }

    pub fn signal(&self) -> Signal {
        match self {
            Decoded::Traces(_) => Signal::Traces,
            Decoded::Metrics(_) => Signal::Metrics,
            Decoded::Logs(_) => Signal::Logs,
        }
    }

    pub fn is_empty(&self) -> bool {
        each_signal!(self, v => v.is_empty())
    }

    /// Spans, metric data points or log records.
    pub fn item_count(&self) -> usize {
        match self {
            Decoded::Traces(v) => v.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum(),
            Decoded::Metrics(v) => {
                v.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).map(data_point_count).sum()
            }
            Decoded::Logs(v) => v.iter().flat_map(|r| &r.scope_logs).map(|s| s.log_records.len()).sum(),
        }
    }

    /// Encodes as the export request (field 1 repeated).
    pub fn encode_request(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.encoded_len());
        self.encode_request_into(&mut buf);
        buf
    }

    pub fn encode_request_into(&self, buf: &mut impl bytes::BufMut) {
        each_signal!(self, v => for r in v { prost::encoding::message::encode(1, r, buf) })
    }

    pub fn encoded_len(&self) -> usize {
        each_signal!(self, v => prost::encoding::message::encoded_len_repeated(1, v))
    }
}

/// A metric's data points: the unit a metrics batch is counted in.
pub fn data_point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
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
    #[error("invalid protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
}

impl Batch {
    /// Wraps an encoded export request whose `items` were counted while it
    /// was validated: only `otlp::wire`'s [`Batch::from_encoded`] does that.
    pub(crate) fn from_validated(signal: Signal, items: usize, bytes: Bytes) -> Batch {
        Batch { signal, items, payload: Payload::Encoded(bytes) }
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
}

/// Encodes a protobuf message to `Bytes`.
pub fn encode_message<M: Message>(msg: &M) -> Bytes {
    Bytes::from(msg.encode_to_vec())
}
