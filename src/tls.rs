//! Server-side TLS for the OTLP receivers: the `tls` settings of otelcol's
//! confighttp/configgrpc servers, the rustls (ring) configuration built from
//! them, and [`TlsListener`], which accepts TCP connections, runs handshakes
//! off the accept loop and yields finished TLS streams to tonic or axum.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use crate::config::types::GoDuration;
use crate::runtime::auth::Secret;
use crate::runtime::{Invalid, NeededFile};

/// A client that has not finished its handshake after this long is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    pub cert_file: Option<String>,
    pub cert_pem: Option<String>,
    pub key_file: Option<String>,
    pub key_pem: Option<Secret>,
    /// mTLS: clients must present a certificate signed by one of these CAs
    pub client_ca_file: Option<String>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    /// re-read `cert_file`/`key_file` when they change, checked this often
    pub reload_interval: Option<GoDuration>,
}

fn version_rank(v: &Option<String>, default: u8) -> u8 {
    match v.as_deref() {
        Some("1.3") => 3,
        Some("1.2") => 2,
        _ => default,
    }
}

impl TlsServerConfig {
    /// Checks combinations; `at` is the key path of this section, like
    /// `protocols.grpc.tls`. Files are checked at start ([`Self::needed_files`]).
    pub fn validate(&self, at: &str) -> Result<(), Invalid> {
        let has_cert = self.cert_file.is_some() || self.cert_pem.is_some();
        let has_key = self.key_file.is_some() || self.key_pem.is_some();
        if !has_cert && !has_key {
            return Err(Invalid::at(at, "a TLS server needs a certificate: set cert_file and key_file"));
        }
        if has_cert != has_key {
            return Err(Invalid::at(
                at,
                "cert_file and key_file go together (or cert_pem and key_pem): set both, or remove tls",
            ));
        }
        if self.cert_file.is_some() && self.cert_pem.is_some() {
            return Err(Invalid::at(format!("{at}.cert_pem"), "set cert_file or cert_pem, not both"));
        }
        if self.key_file.is_some() && self.key_pem.is_some() {
            return Err(Invalid::at(format!("{at}.key_pem"), "set key_file or key_pem, not both"));
        }
        for (key, v) in [("min_version", &self.min_version), ("max_version", &self.max_version)] {
            if let Some(v) = v {
                if !matches!(v.as_str(), "1.2" | "1.3") {
                    let msg = format!("TLS version {v:?} is not supported; use \"1.2\" or \"1.3\"");
                    return Err(Invalid::at(format!("{at}.{key}"), msg));
                }
            }
        }
        if version_rank(&self.min_version, 2) > version_rank(&self.max_version, 3) {
            return Err(Invalid::at(
                format!("{at}.min_version"),
                "is above max_version; lower it or raise max_version",
            ));
        }
        if self.reload_interval.is_some_and(|d| d.is_zero()) {
            return Err(Invalid::at(format!("{at}.reload_interval"), "must be above 0; remove it to never reload"));
        }
        Ok(())
    }

    /// The certificate, key and CA files this section reads at start (see
    /// [`NeededFile`]: missing ones are warnings in `validate`).
    pub fn needed_files(&self, at: &str) -> Vec<NeededFile> {
        [("cert_file", &self.cert_file), ("key_file", &self.key_file), ("client_ca_file", &self.client_ca_file)]
            .into_iter()
            .filter_map(|(key, path)| path.as_ref().map(|p| NeededFile::file(format!("{at}.{key}"), p)))
            .collect()
    }

    /// The rustls server configuration, offering `alpn` (`h2` for gRPC).
    pub fn server_config(&self, alpn: &[&[u8]]) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: Vec<&'static rustls::SupportedProtocolVersion> =
            match (version_rank(&self.min_version, 2), version_rank(&self.max_version, 3)) {
                (3, _) => vec![&rustls::version::TLS13],
                (_, 2) => vec![&rustls::version::TLS12],
                _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
            };
        let builder =
            rustls::ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions)?;
        let builder = match &self.client_ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("tls client_ca_file {path:?}: {e}"))?;
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    roots.add(cert?).map_err(|e| anyhow::anyhow!("tls client_ca_file {path:?}: {e}"))?;
                }
                if roots.is_empty() {
                    anyhow::bail!("tls client_ca_file {path:?} holds no PEM certificate");
                }
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let resolver = CertResolver::new(self.clone(), provider)?;
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    fn load_key(&self, provider: &rustls::crypto::CryptoProvider) -> anyhow::Result<CertifiedKey> {
        let read = |file: &Option<String>, inline: Option<&str>, key: &str| -> anyhow::Result<Vec<u8>> {
            match (file, inline) {
                (Some(path), _) => std::fs::read(path).map_err(|e| anyhow::anyhow!("tls {key} {path:?}: {e}")),
                (None, Some(pem)) => Ok(pem.as_bytes().to_vec()),
                (None, None) => anyhow::bail!("tls needs {key}"),
            }
        };
        let cert_pem = read(&self.cert_file, self.cert_pem.as_deref(), "cert_file")?;
        let key_pem = read(&self.key_file, self.key_pem.as_ref().map(Secret::expose), "key_file")?;
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("tls cert_file is not valid PEM: {e}"))?;
        if certs.is_empty() {
            anyhow::bail!("tls cert_file holds no PEM certificate");
        }
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|e| anyhow::anyhow!("tls key_file is not valid PEM: {e}"))?
            .ok_or_else(|| anyhow::anyhow!("tls key_file holds no private key"))?;
        CertifiedKey::from_der(certs, key, provider)
            .map_err(|e| anyhow::anyhow!("tls cert_file and key_file do not form a usable pair: {e}"))
    }

    fn files_modified(&self) -> Option<(SystemTime, SystemTime)> {
        let m = |p: &Option<String>| std::fs::metadata(p.as_ref()?).and_then(|m| m.modified()).ok();
        Some((m(&self.cert_file)?, m(&self.key_file)?))
    }
}

/// Serves the current certificate; with `reload_interval`, a handshake after
/// the interval re-reads the files if their modification time changed.
struct CertResolver {
    cfg: TlsServerConfig,
    provider: Arc<rustls::crypto::CryptoProvider>,
    state: Mutex<ResolverState>,
}

struct ResolverState {
    key: Arc<CertifiedKey>,
    modified: Option<(SystemTime, SystemTime)>,
    checked: Instant,
}

impl std::fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertResolver").field("cert_file", &self.cfg.cert_file).finish_non_exhaustive()
    }
}

impl CertResolver {
    fn new(cfg: TlsServerConfig, provider: Arc<rustls::crypto::CryptoProvider>) -> anyhow::Result<CertResolver> {
        let key = Arc::new(cfg.load_key(&provider)?);
        let modified = cfg.files_modified();
        let state = Mutex::new(ResolverState { key, modified, checked: Instant::now() });
        Ok(CertResolver { cfg, provider, state })
    }
}

impl rustls::server::ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().expect("lock");
        if let Some(interval) = self.cfg.reload_interval {
            if state.checked.elapsed() >= interval.0 {
                state.checked = Instant::now();
                let modified = self.cfg.files_modified();
                if modified.is_some() && modified != state.modified {
                    match self.cfg.load_key(&self.provider) {
                        Ok(key) => {
                            tracing::info!(cert_file = ?self.cfg.cert_file, "TLS certificate reloaded");
                            state.key = Arc::new(key);
                            state.modified = modified;
                        }
                        Err(e) => tracing::warn!("TLS certificate not reloaded, keeping the previous one: {e}"),
                    }
                }
            }
        }
        Some(state.key.clone())
    }
}

/// Accepted and handshaken TLS connections. A slow or failing handshake
/// never holds up the accept loop; failures are logged at debug level.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` until `stop` is cancelled.
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>, stop: CancellationToken) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tx.closed() => break,
                    accepted = tcp.accept() => match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot accept a connection");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }

    /// The connections as a stream, for tonic's `serve_with_incoming_shutdown`.
    pub fn into_stream(self) -> impl futures::Stream<Item = std::io::Result<TlsStream<TcpStream>>> {
        futures::stream::unfold(self.rx, |mut rx| async move { rx.recv().await.map(|(s, _)| (Ok(s), rx)) })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // the accept loop stopped: shutdown is under way, wait for it
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<TlsServerConfig, String> {
        crate::component::parse_section(v).map_err(|e| e.to_string())
    }

    #[test]
    fn validation_names_the_key() {
        let e = parse(serde_json::json!({"cert_file": "/x"})).unwrap().validate("protocols.grpc.tls").unwrap_err();
        assert_eq!(e.path, "protocols.grpc.tls");
        assert!(e.message.contains("go together"));
        let missing =
            parse(serde_json::json!({"cert_file": "/nonexistent/c.pem", "key_file": "/nonexistent/k.pem"})).unwrap();
        missing.validate("protocols.http.tls").unwrap();
        let files = missing.needed_files("protocols.http.tls");
        assert_eq!(files[0], NeededFile::file("protocols.http.tls.cert_file", "/nonexistent/c.pem"));
        assert_eq!(files[1].path, "protocols.http.tls.key_file");
        assert!(files[0].problem().unwrap().contains("cannot read"));
        let e = parse(serde_json::json!({"cert_pem": "x", "key_pem": "y", "min_version": "1.1"}))
            .unwrap()
            .validate("tls")
            .unwrap_err();
        assert_eq!(e.path, "tls.min_version");
        let e = parse(serde_json::json!({"cert_pem": "x", "key_pem": "y", "min_version": "1.3", "max_version": "1.2"}))
            .unwrap()
            .validate("tls")
            .unwrap_err();
        assert_eq!(e.path, "tls.min_version");
        assert!(parse(serde_json::json!({"cert_file": "a", "key_fil": "b"})).unwrap_err().contains("key_fil"));
        assert!(parse(serde_json::json!({})).unwrap().validate("tls").is_err());
    }

    #[test]
    fn key_pem_is_redacted_and_bad_pem_is_a_clear_error() {
        let cfg = parse(serde_json::json!({"cert_pem": "not pem", "key_pem": "PRIVATE-KEY-MATERIAL"})).unwrap();
        cfg.validate("tls").unwrap();
        assert!(!format!("{cfg:?}").contains("PRIVATE-KEY-MATERIAL"));
        let err = cfg.server_config(&[b"h2"]).unwrap_err().to_string();
        assert!(err.contains("cert_file"), "{err}");
    }
}
