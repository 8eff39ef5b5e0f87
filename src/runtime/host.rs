//! The host a component is built with (otelcol's `component.Host`): it
//! finds an extension by id and checks that it offers the capability asked
//! for, so components never import a concrete extension.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::auth::{AuthSettings, Authenticator, ClientAuth, ServerAuth};
use super::capability::Capability;
use super::id::ComponentId;
use super::storage::StorageSettings;

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
