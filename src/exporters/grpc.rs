//! What the exporters that speak gRPC share (`otlp`, `jaeger`): dialing an
//! `endpoint` with the `tls` section, and otelcol's retry rules for gRPC
//! status codes.

use std::str::FromStr;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::client::TlsClientConfig;
use super::helper::ExportError;
use crate::config::types::check_grpc_endpoint;
use crate::otlp::wire;

/// Plain text when `tls.insecure` is set or the endpoint says `http://`.
pub fn plaintext(endpoint: &str, tls: &TlsClientConfig) -> bool {
    tls.insecure || endpoint.trim().starts_with("http://")
}

/// The URI to dial: otelcol accepts `host:port` and `scheme://host:port`.
pub fn target(endpoint: &str, tls: &TlsClientConfig) -> Result<String, String> {
    let ep = endpoint.trim();
    check_grpc_endpoint(ep)?;
    let rest = ep.strip_prefix("http://").or_else(|| ep.strip_prefix("https://")).unwrap_or(ep);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(format!("{ep:?} must be host:port, optionally with http:// or https://"));
    }
    let scheme = if plaintext(endpoint, tls) { "http" } else { "https" };
    let uri = format!("{scheme}://{rest}");
    http::Uri::from_str(&uri).map_err(|e| format!("{ep:?} is not a valid address: {e}"))?;
    Ok(uri)
}

/// A lazily connecting channel: the exporter starts even when its endpoint
/// does not resolve yet, and reconnects on its own.
pub fn channel(endpoint: &str, tls: &TlsClientConfig) -> anyhow::Result<Channel> {
    let mut ep = Endpoint::from_shared(target(endpoint, tls).map_err(anyhow::Error::msg)?)?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_adaptive_window(true);
    if !plaintext(endpoint, tls) {
        let mut config = ClientTlsConfig::new().with_native_roots();
        if let Some(ca) = tls.ca_pem_bytes()? {
            config = config.ca_certificate(Certificate::from_pem(ca));
        }
        if let Some((cert, key)) = tls.identity_pem()? {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(name) = &tls.server_name_override {
            config = config.domain_name(name.clone());
        }
        ep = ep.tls_config(config)?;
    }
    Ok(ep.connect_lazy())
}

/// OTLP/gRPC retry rules: transient codes retry; RESOURCE_EXHAUSTED only
/// when the server sent RetryInfo; everything else is permanent.
pub fn classify(status: &tonic::Status) -> ExportError {
    use tonic::Code::*;
    let message = format!("{:?}: {}", status.code(), status.message());
    let retry_info = retry_delay(status.details());
    match status.code() {
        Cancelled | DeadlineExceeded | Aborted | OutOfRange | Unavailable | DataLoss => {
            ExportError::Retryable { message, retry_after: retry_info }
        }
        ResourceExhausted if retry_info.is_some() => ExportError::Retryable { message, retry_after: retry_info },
        _ => ExportError::Permanent(message),
    }
}

/// Reads `google.rpc.RetryInfo.retry_delay` from a `google.rpc.Status`'s details.
fn retry_delay(status: &[u8]) -> Option<Duration> {
    const RETRY_INFO: &[u8] = b"type.googleapis.com/google.rpc.RetryInfo";
    let fields = |buf: &[u8]| -> Option<Vec<(u32, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let (num, wt) = wire::read_key(buf, &mut pos).ok()?;
            match wt {
                2 => out.push((num, buf[wire::read_len(buf, &mut pos).ok()?].to_vec())),
                0 => out.push((num, wire::read_varint(buf, &mut pos).ok()?.to_le_bytes().to_vec())),
                _ => wire::skip(buf, &mut pos, wt).ok()?,
            }
        }
        Some(out)
    };
    for (num, any) in fields(status)? {
        if num != 3 {
            continue;
        }
        let any = fields(&any)?;
        let is_retry_info = any.iter().any(|(n, v)| *n == 1 && v == RETRY_INFO);
        let value = any.iter().find(|(n, _)| *n == 2).map(|(_, v)| v.clone());
        if let (true, Some(value)) = (is_retry_info, value) {
            let delay = fields(&value)?.into_iter().find(|(n, _)| *n == 1)?.1;
            let mut secs = 0u64;
            let mut nanos = 0u64;
            for (n, v) in fields(&delay)? {
                let x = u64::from_le_bytes(v.try_into().ok()?);
                if n == 1 {
                    secs = x;
                } else if n == 2 {
                    nanos = x;
                }
            }
            return Some(Duration::from_secs(secs) + Duration::from_nanos(nanos));
        }
    }
    None
}
