//! The host a component is built with (otelcol's `component.Host`): it
//! finds an extension by id and checks that it offers the capability asked
//! for, so components never import a concrete extension.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::auth::{AuthSettings, Authenticator, ClientAuth, ServerAuth};
use super::id::ComponentId;
use super::storage::StorageSettings;

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

/// What one running extension offers.
#[derive(Clone, Default)]
pub struct Offered {
    pub authenticator: Option<Authenticator>,
    pub storage: Option<StorageSettings>,
}

/// The enabled extensions, by id, as components see them.
#[derive(Clone, Default)]
pub struct Host {
    extensions: Arc<BTreeMap<ComponentId, Offered>>,
}

impl Host {
    pub fn new(extensions: BTreeMap<ComponentId, Offered>) -> Host {
        Host { extensions: Arc::new(extensions) }
    }

    /// The extension `reference` names, if it is enabled and offers `capability`.
    pub fn extension(&self, reference: &str, capability: Capability) -> anyhow::Result<&Offered> {
        let id = ComponentId::parse(reference).map_err(anyhow::Error::msg)?;
        let offered = self.extensions.get(&id).ok_or_else(|| {
            anyhow::anyhow!(
                "extension \"{id}\" is not running; declare it under extensions and list it in service.extensions"
            )
        })?;
        let offers = match capability {
            Capability::Authenticator => offered.authenticator.is_some(),
            Capability::Storage => offered.storage.is_some(),
        };
        anyhow::ensure!(offers, "extension \"{id}\" is not {capability}");
        Ok(offered)
    }

    fn authenticator(&self, settings: &AuthSettings) -> anyhow::Result<&Authenticator> {
        let offered = self.extension(&settings.authenticator, Capability::Authenticator)?;
        Ok(offered.authenticator.as_ref().expect("checked by extension()"))
    }

    /// The server side of `settings.authenticator`, for a receiver.
    pub fn server_auth(&self, settings: &AuthSettings) -> anyhow::Result<Arc<dyn ServerAuth>> {
        self.authenticator(settings)?.server.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "authenticator \"{}\" cannot check incoming requests; give basicauth an htpasswd section",
                settings.authenticator
            )
        })
    }

    /// The client side of `settings.authenticator`, for an exporter.
    pub fn client_auth(&self, settings: &AuthSettings) -> anyhow::Result<Arc<dyn ClientAuth>> {
        self.authenticator(settings)?.client.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "authenticator \"{}\" cannot authenticate outgoing requests; give basicauth a client_auth section",
                settings.authenticator
            )
        })
    }

    /// The storage `reference` names, for a persistent queue.
    pub fn storage(&self, reference: &str) -> anyhow::Result<StorageSettings> {
        let offered = self.extension(reference, Capability::Storage)?;
        Ok(offered.storage.clone().expect("checked by extension()"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_extension_by_id_and_checks_what_it_offers() {
        let storage = StorageSettings { directory: "/tmp/q".into(), timeout: Default::default(), fsync: false };
        let host = Host::new(BTreeMap::from([
            (
                ComponentId::parse("file_storage/q").unwrap(),
                Offered { storage: Some(storage.clone()), ..Default::default() },
            ),
            (
                ComponentId::parse("bearertokenauth").unwrap(),
                Offered { authenticator: Some(Default::default()), ..Default::default() },
            ),
        ]));
        assert_eq!(host.storage("file_storage/q").unwrap(), storage);
        let e = host.storage("bearertokenauth").unwrap_err().to_string();
        assert_eq!(e, "extension \"bearertokenauth\" is not a storage extension");
        let auth = AuthSettings { authenticator: "file_storage/q".into() };
        assert_eq!(
            host.client_auth(&auth).err().unwrap().to_string(),
            "extension \"file_storage/q\" is not an authenticator"
        );
        let missing = AuthSettings { authenticator: "basicauth".into() };
        assert!(host.server_auth(&missing).err().unwrap().to_string().contains("list it in service.extensions"));
        let no_server = AuthSettings { authenticator: "bearertokenauth".into() };
        assert!(host.server_auth(&no_server).err().unwrap().to_string().contains("cannot check incoming requests"));
    }
}
