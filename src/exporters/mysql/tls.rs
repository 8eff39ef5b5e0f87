//! TLS to MariaDB/MySQL from the exporter's `tls` section, the same
//! settings as every other client in the collector (`ca_file`/`ca_pem`,
//! `cert_file`/`key_file` for a client certificate, `insecure_skip_verify`,
//! `server_name_override`, `include_system_ca_certs_pool`), mapped onto
//! mysql_async's rustls options. TLS is on when the section is present
//! (unless `insecure: true`) or when the DSN asks for it (`require_ssl=true`);
//! without a `ca_file` the system's roots are trusted, as for the OTLP
//! exporters. The connection then never switches to the server's unix
//! socket, which mysql_async otherwise prefers on the same host.

use mysql_async::{ClientIdentity, OptsBuilder, SslOpts};

use crate::component::Invalid;
use crate::exporters::client::{system_roots, TlsClientConfig};

/// Whether the connection is encrypted: the `tls` section unless it says
/// `insecure: true`, else what the DSN asks for.
pub fn wanted(tls: Option<&TlsClientConfig>, dsn_asks: bool) -> bool {
    match tls {
        Some(t) => !t.insecure,
        None => dsn_asks,
    }
}

/// Whether connections made with `opts` are encrypted.
pub fn encrypts(opts: &OptsBuilder) -> bool {
    mysql_async::Opts::from(opts.clone()).ssl_opts().is_some()
}

/// The settings mysql_async has no knob for are refused, not ignored.
pub fn validate(tls: &TlsClientConfig) -> Result<(), Invalid> {
    tls.validate()?;
    let unsupported = [("min_version", tls.min_version.is_some()), ("max_version", tls.max_version.is_some())];
    if let Some((key, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(Invalid::at(
            format!("tls.{key}"),
            "is not supported by the mysql exporter (the server's TLS settings decide); remove it",
        ));
    }
    Ok(())
}

/// Applies `tls` to the connection options.
pub fn apply(opts: OptsBuilder, tls: &TlsClientConfig) -> anyhow::Result<OptsBuilder> {
    // PEM bundles or single DER certificates
    let mut roots: Vec<Vec<u8>> = Vec::new();
    let ca = tls.ca_pem_bytes()?;
    let system = ca.is_none() || tls.include_system_ca_certs_pool;
    roots.extend(ca);
    if system {
        roots.extend(system_roots().into_iter().map(|c| c.to_vec()));
    }
    let mut ssl = SslOpts::default()
        .with_root_certs(roots.into_iter().map(Into::into).collect())
        .with_disable_built_in_roots(true)
        .with_danger_accept_invalid_certs(tls.insecure_skip_verify)
        .with_danger_skip_domain_validation(tls.insecure_skip_verify)
        .with_danger_tls_hostname_override(tls.server_name_override.clone());
    if let Some((cert, key)) = tls.identity_pem()? {
        ssl = ssl.with_client_identity(Some(ClientIdentity::new(cert.into(), key.into())));
    }
    Ok(opts.ssl_opts(Some(ssl)).prefer_socket(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(v: serde_json::Value) -> TlsClientConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn on_with_the_section_unless_insecure_else_as_the_dsn_says() {
        assert!(wanted(Some(&tls(serde_json::json!({}))), false));
        assert!(!wanted(Some(&tls(serde_json::json!({"insecure": true}))), true));
        assert!(wanted(None, true));
        assert!(!wanted(None, false));
    }

    #[test]
    fn unsupported_keys_are_named() {
        let err = validate(&tls(serde_json::json!({"min_version": "1.3"}))).unwrap_err();
        assert_eq!(err.path, "tls.min_version");
        assert!(validate(&tls(serde_json::json!({"cert_file": "c.pem"}))).is_err(), "cert without key");
        assert!(validate(&tls(serde_json::json!({"ca_file": "ca.pem", "server_name_override": "db"}))).is_ok());
    }

    #[test]
    fn applied_options_carry_the_ca_and_identity_and_never_the_socket() {
        let t = tls(serde_json::json!({
            "ca_pem": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n",
            "cert_pem": "cert", "key_pem": "key", "insecure_skip_verify": true,
        }));
        let opts = mysql_async::Opts::from(apply(OptsBuilder::default(), &t).unwrap());
        let ssl = opts.ssl_opts().expect("TLS on");
        assert_eq!(ssl.root_certs().len(), 1, "only the given CA");
        assert!(ssl.disable_built_in_roots() && ssl.accept_invalid_certs() && ssl.skip_domain_validation());
        assert!(ssl.client_identity().is_some());
        assert!(!opts.prefer_socket());
        let missing = tls(serde_json::json!({"ca_file": "/nonexistent/ca.pem"}));
        let err = apply(OptsBuilder::default(), &missing).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
