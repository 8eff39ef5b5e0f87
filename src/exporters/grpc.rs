//! What the exporters that speak gRPC share (`otlp`, `jaeger`): dialing an
//! `endpoint` with the `tls` section, and otelcol's retry rules for gRPC
//! status codes.

use std::str::FromStr;
use std::time::Duration;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use serde::Deserialize;

use super::client::TlsClientConfig;
use super::helper::ExportError;
use crate::component::Invalid;
use crate::config::types::{check_grpc_endpoint, GoDuration};
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

/// configgrpc's client `keepalive` section: pings every `time` when idle,
/// the connection is dropped when a ping is unanswered after `timeout`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keepalive {
    pub time: Option<GoDuration>,
    pub timeout: Option<GoDuration>,
    pub permit_without_stream: bool,
}

/// The configgrpc client settings beyond endpoint and tls that otlp and
/// jaeger share: applied to the channel, or refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientOptions<'a> {
    pub keepalive: Option<&'a Keepalive>,
    pub authority: Option<&'a str>,
    pub wait_for_ready: bool,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
}

impl ClientOptions<'_> {
    /// Refuses what tonic has no knob for, so no key is silently ignored.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.wait_for_ready {
            return Err(Invalid::at(
                "wait_for_ready",
                "is not supported: a send to an unreachable server fails as UNAVAILABLE and is retried by \
                 retry_on_failure (and kept in sending_queue) instead; remove wait_for_ready",
            ));
        }
        for (key, size) in [("read_buffer_size", self.read_buffer_size), ("write_buffer_size", self.write_buffer_size)]
        {
            if size.is_some() {
                return Err(Invalid::at(
                    key,
                    "is not supported: socket buffer sizes are left to the operating system here; remove it",
                ));
            }
        }
        if let Some(a) = self.authority {
            http::uri::Authority::from_str(a)
                .map_err(|_| Invalid::at("authority", format!("{a:?} is not a valid authority (host or host:port)")))?;
        }
        if self.keepalive.and_then(|k| k.time).is_some_and(|t| t.is_zero()) {
            return Err(Invalid::at("keepalive.time", "must be above 0; remove keepalive to send no pings"));
        }
        Ok(())
    }
}

/// A lazily connecting channel: the exporter starts even when its endpoint
/// does not resolve yet, and reconnects on its own.
pub fn channel(endpoint: &str, tls: &TlsClientConfig, options: ClientOptions<'_>) -> anyhow::Result<Channel> {
    let uri = target(endpoint, tls).map_err(anyhow::Error::msg)?;
    let mut ep = Endpoint::from_shared(uri.clone())?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_adaptive_window(true);
    if let Some(k) = options.keepalive {
        // grpc-go's client defaults: time infinity (no pings) unless set, timeout 20s
        if let Some(time) = k.time {
            ep = ep
                .http2_keep_alive_interval(time.0)
                .keep_alive_timeout(k.timeout.map_or(Duration::from_secs(20), |t| t.0))
                .keep_alive_while_idle(k.permit_without_stream);
        }
    }
    if let Some(authority) = options.authority {
        // the :authority of every request (and the TLS server name, as grpc-go does)
        let scheme = if plaintext(endpoint, tls) { "http" } else { "https" };
        ep = ep.origin(http::Uri::from_str(&format!("{scheme}://{authority}"))?);
    }
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
