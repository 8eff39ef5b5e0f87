//! What one `workshop verify` check found.

use serde::Serialize;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// the backend this check needs is not in the stack
    NotChecked,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub step: String,
    pub verdict: Verdict,
    /// what was checked and what was found, one line each
    pub findings: Vec<String>,
    /// on failure: where the data stopped
    pub diagnosis: Option<String>,
}
