//! What a storage extension offers the components that keep state on disk
//! (today: persistent sending queues). The extension that provides it, such
//! as `file_storage`, lives with the components.

use std::path::PathBuf;
use std::time::Duration;

/// Where and how a component keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    pub directory: PathBuf,
    /// how long to wait for another process to release a directory
    pub timeout: Duration,
    /// sync every write to disk before acknowledging it
    pub fsync: bool,
}
