//! Client settings shared by the OTLP exporters: `tls`, `headers`,
//! `compression`, and the rustls configuration built from them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::component::{Invalid, NeededFile};
use crate::config::types::GoDuration;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsClientConfig {
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    pub ca_file: Option<String>,
    pub ca_pem: Option<String>,
    pub cert_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_file: Option<String>,
    pub key_pem: Option<String>,
    pub server_name_override: Option<String>,
    pub include_system_ca_certs_pool: bool,
    /// `"1.2"` or `"1.3"`: the HTTP exporters offer only versions in range
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    /// refused (see `validate`)
    pub reload_interval: Option<GoDuration>,
    pub cipher_suites: Vec<String>,
    pub curve_preferences: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    Gzip,
    None,
    #[serde(rename = "")]
    Empty,
    Zstd,
}

impl Compression {
    pub fn is_none(self) -> bool {
        matches!(self, Compression::None | Compression::Empty)
    }
}

impl TlsClientConfig {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(Invalid::at(
                "tls",
                "cert_file and key_file go together: set both for client certificates, or neither",
            ));
        }
        for (key, v) in [("tls.min_version", &self.min_version), ("tls.max_version", &self.max_version)] {
            if let Some(v) = v {
                if !matches!(v.as_str(), "1.2" | "1.3") {
                    return Err(Invalid::at(
                        key,
                        format!("TLS version {v:?} is not supported; use \"1.2\" or \"1.3\""),
                    ));
                }
            }
        }
        if self.versions().is_empty() {
            return Err(Invalid::at("tls.min_version", "is above max_version"));
        }
        for (key, set) in [
            ("tls.cipher_suites", !self.cipher_suites.is_empty()),
            ("tls.curve_preferences", !self.curve_preferences.is_empty()),
        ] {
            if set {
                return Err(Invalid::at(
                    key,
                    "is not supported: the client offers rustls's safe default suites and groups; remove it",
                ));
            }
        }
        if self.reload_interval.is_some() {
            return Err(Invalid::at(
                "tls.reload_interval",
                "is not supported on exporters: client certificates are read once at start; remove it",
            ));
        }
        Ok(())
    }

    /// The TLS versions `min_version`..`max_version` allow (1.2 and 1.3 by default).
    pub fn versions(&self) -> Vec<&'static rustls::SupportedProtocolVersion> {
        let allowed = |v: &str| {
            self.min_version.as_deref().is_none_or(|min| min <= v)
                && self.max_version.as_deref().is_none_or(|max| v <= max)
        };
        [("1.2", &rustls::version::TLS12), ("1.3", &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| allowed(v))
            .map(|(_, p)| p)
            .collect()
    }

    /// The CA, certificate and key files read at start; `at` is the key path
    /// of this section (`tls`).
    pub fn needed_files(&self, at: &str) -> Vec<NeededFile> {
        if self.insecure {
            return Vec::new();
        }
        [("ca_file", &self.ca_file), ("cert_file", &self.cert_file), ("key_file", &self.key_file)]
            .into_iter()
            .filter_map(|(key, path)| path.as_ref().map(|p| NeededFile::file(format!("{at}.{key}"), p)))
            .collect()
    }

    fn pem(&self, file: &Option<String>, inline: &Option<String>, what: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match (file, inline) {
            (Some(path), _) => {
                std::fs::read(path).map(Some).map_err(|e| anyhow::anyhow!("cannot read tls {what} {path:?}: {e}"))
            }
            (None, Some(pem)) => Ok(Some(pem.as_bytes().to_vec())),
            (None, None) => Ok(None),
        }
    }

    pub fn ca_pem_bytes(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.pem(&self.ca_file, &self.ca_pem, "ca_file")
    }

    pub fn identity_pem(&self) -> anyhow::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let cert = self.pem(&self.cert_file, &self.cert_pem, "cert_file")?;
        let key = self.pem(&self.key_file, &self.key_pem, "key_file")?;
        Ok(cert.zip(key))
    }

    /// A rustls client configuration: system roots plus `ca_file`, optional
    /// client certificate, optional verification bypass.
    pub fn rustls_config(&self, alpn: &[&[u8]]) -> anyhow::Result<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder =
            rustls::ClientConfig::builder_with_provider(provider.clone()).with_protocol_versions(&self.versions())?;
        let builder = if self.insecure_skip_verify {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        } else {
            let mut roots = rustls::RootCertStore::empty();
            match self.ca_pem_bytes()? {
                Some(pem) => {
                    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                        roots.add(cert?)?;
                    }
                    if self.include_system_ca_certs_pool {
                        add_system_roots(&mut roots);
                    }
                }
                None => add_system_roots(&mut roots),
            }
            builder.with_root_certificates(roots)
        };
        let mut config = match self.identity_pem()? {
            Some((cert, key)) => {
                let certs = rustls_pemfile::certs(&mut cert.as_slice()).collect::<Result<Vec<_>, _>>()?;
                let key = rustls_pemfile::private_key(&mut key.as_slice())?
                    .ok_or_else(|| anyhow::anyhow!("tls key_file holds no private key"))?;
                builder.with_client_auth_cert(certs, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }
}

fn add_system_roots(roots: &mut rustls::RootCertStore) {
    for cert in system_roots() {
        let _ = roots.add(cert);
    }
}

/// The system's trusted certificates (what `include_system_ca_certs_pool`
/// and a missing `ca_file` mean for every client).
pub fn system_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Headers from config; keys are kept as written, values were env-expanded
/// by the config loader.
pub type Headers = BTreeMap<String, String>;

/// The confighttp client keys the HTTP exporters refuse, `(key, set)`:
/// the client keeps its own connection pool (idle connections reused,
/// closed after 90 s) and its own buffers, so these cannot be honoured.
pub fn refuse_connection_tuning(keys: &[(&str, bool)]) -> Result<(), Invalid> {
    match keys.iter().find(|(_, set)| *set) {
        Some((key, _)) => Err(Invalid::at(
            *key,
            "is not supported: the HTTP client keeps its own connection pool (idle connections reused, \
             closed after 90s) and buffers; remove it",
        )),
        None => Ok(()),
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date.
/// The HTTP client of an exporter that speaks HTTP: its `tls` settings (ALPN
/// `alpn`), static `headers` on every request, and otelstack's User-Agent.
pub fn http_client(
    tls: &TlsClientConfig,
    alpn: &[&[u8]],
    headers: &BTreeMap<String, String>,
) -> anyhow::Result<reqwest::Client> {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in headers {
        map.insert(reqwest::header::HeaderName::from_bytes(k.as_bytes())?, reqwest::header::HeaderValue::from_str(v)?);
    }
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls.rustls_config(alpn)?)
        .user_agent(concat!("otelstack-collector/", env!("CARGO_PKG_VERSION")))
        .default_headers(map)
        .build()?)
}

pub fn parse_retry_after(value: &str) -> Option<std::time::Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(std::time::Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

#[cfg(test)]
mod tls_option_tests {
    use super::*;

    fn tls(v: serde_json::Value) -> TlsClientConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn min_and_max_version_limit_what_the_http_client_offers() {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        // the config the HTTP exporters build takes exactly these versions
        let offered = |v| {
            let t = tls(v);
            t.rustls_config(&[b"http/1.1"]).unwrap();
            let vs: Vec<_> = t.versions().iter().map(|p| p.version).collect();
            (vs.contains(&TLSv1_2), vs.contains(&TLSv1_3))
        };
        assert_eq!(offered(serde_json::json!({})), (true, true));
        assert_eq!(offered(serde_json::json!({"min_version": "1.3"})), (false, true));
        assert_eq!(offered(serde_json::json!({"max_version": "1.2"})), (true, false));
        let e = tls(serde_json::json!({"min_version": "1.3", "max_version": "1.2"})).validate().unwrap_err();
        assert_eq!(e.path, "tls.min_version");
    }

    #[test]
    fn suites_curves_and_reload_are_refused_with_their_key() {
        for (v, key) in [
            (serde_json::json!({"cipher_suites": ["TLS_AES_128_GCM_SHA256"]}), "tls.cipher_suites"),
            (serde_json::json!({"curve_preferences": ["X25519"]}), "tls.curve_preferences"),
            (serde_json::json!({"reload_interval": "1h"}), "tls.reload_interval"),
        ] {
            let e = tls(v).validate().unwrap_err();
            assert_eq!(e.path, key);
            assert!(e.message.starts_with("is not supported"), "{}", e.message);
        }
    }
}
