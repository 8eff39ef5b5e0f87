//! The error a config's semantic check returns, and the deployment files a
//! config needs at start, shared by the component
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

/// A file or directory of the deployment a config names (a TLS
/// certificate, a token file, a storage directory). `validate` only warns
/// when it is missing, since CI checks configs without their secrets; the
/// collector refuses to start until it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededFile {
    /// key path inside the component's section, like `tls.cert_file`
    pub path: String,
    pub file: String,
    /// a directory rather than a readable file
    pub directory: bool,
}

impl NeededFile {
    pub fn file(path: impl Into<String>, file: impl Into<String>) -> NeededFile {
        NeededFile { path: path.into(), file: file.into(), directory: false }
    }

    pub fn directory(path: impl Into<String>, dir: impl Into<String>) -> NeededFile {
        NeededFile { path: path.into(), file: dir.into(), directory: true }
    }

    /// Why the file cannot be used now, or `None` when it can.
    pub fn problem(&self) -> Option<String> {
        if self.directory {
            return match std::fs::metadata(&self.file) {
                Ok(m) if m.is_dir() => None,
                Ok(_) => Some(format!("{:?} is not a directory", self.file)),
                Err(e) => Some(format!("the directory {:?} cannot be used: {e}", self.file)),
            };
        }
        std::fs::File::open(&self.file).err().map(|e| format!("cannot read {:?}: {e}", self.file))
    }
}
