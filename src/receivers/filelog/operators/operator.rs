//! What every operator is: one step that changes an entry in place, and
//! the error its config builder returns (a key path and a sentence).

use super::super::entry::Entry;

/// `(key path inside the operator, message)`
pub type BuildError = (String, String);

/// One step of the chain; an error leaves the entry as it was before.
pub trait Operator: Send + Sync {
    fn process(&self, e: &mut Entry) -> Result<(), String>;
}
