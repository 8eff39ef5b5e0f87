//! The error a config's semantic check returns, shared by the component
//! contract's `Validate` and the run-time settings below it (TLS, auth) that
//! components embed in their configs.

/// A semantic problem in a parsed component config: `path` is relative to
/// the component's section (empty for the section itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

impl Invalid {
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid { path: path.into(), message: message.into() }
    }
}
