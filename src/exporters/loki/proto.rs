//! Loki's push request, hand-written with the field numbers of Loki's
//! `pkg/push/push.proto` (package `logproto`; the gogoproto options there
//! change only Go code generation). Only what a client sends is here.

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<Stream>,
}

/// `StreamAdapter`: the label set in Prometheus text form and its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stream {
    #[prost(string, tag = "1")]
    pub labels: String,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<Entry>,
}

/// `EntryAdapter`: a timestamp (`google.protobuf.Timestamp`) and a line.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Entry {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    pub line: String,
}

#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl Timestamp {
    pub fn from_nanos(n: u64) -> Timestamp {
        Timestamp { seconds: (n / 1_000_000_000) as i64, nanos: (n % 1_000_000_000) as i32 }
    }
}
