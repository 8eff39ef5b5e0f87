//! Why a consumer did not take a batch (otelcol's `consumererror`): the
//! vocabulary receivers, processors, exporters and the admission budget
//! share, and that decides the status a receiver answers with.

use std::time::Duration;

/// Why a consumer did not take a batch; decides the status a receiver sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// try again later: gRPC UNAVAILABLE, HTTP 503 with Retry-After
    #[error("{reason}")]
    Refused { reason: String, retry_after: Option<Duration> },
    /// will never succeed: gRPC INTERNAL, HTTP 500
    #[error("{0}")]
    Permanent(String),
}

impl ConsumeError {
    pub fn refused(reason: impl Into<String>) -> ConsumeError {
        ConsumeError::Refused { reason: reason.into(), retry_after: None }
    }
}
