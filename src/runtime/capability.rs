//! What an extension can offer other components and how a config names the
//! extension it needs: the vocabulary the [`super::host::Host`] and config
//! validation share, apart from the host so settings can build references.

use std::fmt;

/// What an extension can offer other components; configs declare what they
/// offer and need, and validation checks references against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// checks incoming requests and/or authenticates outgoing ones (`auth.authenticator`)
    Authenticator,
    /// keeps state on disk (`sending_queue.storage`)
    Storage,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::Authenticator => "an authenticator",
            Capability::Storage => "a storage extension",
        })
    }
}

/// A config's reference to an extension: the key path inside the
/// component's section, the id it names, and what that extension must offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionRef {
    pub path: String,
    pub id: String,
    pub needs: Capability,
}
