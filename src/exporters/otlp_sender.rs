//! OTLP over gRPC as every exporter that speaks it sends: the `otlp`
//! exporter's settings ([`OtlpGrpcConfig`]), the lazily connecting channel
//! they describe, and one export call ([`OtlpGrpcExport`]). Shared by the
//! `otlp` exporter (one endpoint) and `loadbalancing` (one per backend).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;
use tonic::metadata::MetadataKey;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::client::{Compression, TlsClientConfig};
use super::helper::{Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{Invalid, Validate};
use crate::config::types::GoDuration;
use crate::extensions::auth::{AuthSettings, Authenticators, ClientAuth};
use crate::otlp::grpc_client;
use crate::otlp::{wire, PartialSuccess};
use crate::signal::{Batch, Signal};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpGrpcConfig {
    pub endpoint: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub headers: BTreeMap<String, String>,
    pub compression: Compression,
    pub timeout: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub sending_queue: QueueConfig,
    pub keepalive: Option<Value>,
    pub balancer_name: Option<String>,
    pub authority: Option<String>,
    pub wait_for_ready: bool,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub auth: Option<AuthSettings>,
}

impl Default for OtlpGrpcConfig {
    fn default() -> Self {
        OtlpGrpcConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            timeout: GoDuration::secs(5),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            keepalive: None,
            balancer_name: None,
            authority: None,
            wait_for_ready: false,
            read_buffer_size: None,
            write_buffer_size: None,
            auth: None,
        }
    }
}

impl Validate for OtlpGrpcConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.trim().is_empty() {
            return Err(Invalid::at(
                "endpoint",
                "is required, like \"tempo:4317\" or \"https://otlp.example.com:4317\"",
            ));
        }
        self.target().map_err(|e| Invalid::at("endpoint", e))?;
        self.validate_client()
    }
}

impl OtlpGrpcConfig {
    /// Everything but `endpoint`: `loadbalancing` takes its endpoints from
    /// the resolver.
    pub fn validate_client(&self) -> Result<(), Invalid> {
        if self.tls.insecure_skip_verify && !self.plaintext() {
            return Err(Invalid::at(
                "tls.insecure_skip_verify",
                "is not supported by the gRPC exporter; give the server's CA in tls.ca_file instead",
            ));
        }
        for key in self.headers.keys() {
            MetadataKey::<tonic::metadata::Ascii>::from_str(&key.to_ascii_lowercase())
                .map_err(|_| Invalid::at(format!("headers.{key}"), "is not a valid gRPC header name"))?;
        }
        if self.compression == Compression::Zstd {
            return Err(Invalid::at("compression", "zstd is not supported by the gRPC exporter; use gzip or none"));
        }
        self.tls.validate()?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl OtlpGrpcConfig {
    fn plaintext(&self) -> bool {
        self.tls.insecure || self.endpoint.starts_with("http://")
    }

    /// The same settings aimed at another endpoint.
    pub fn with_endpoint(&self, endpoint: &str) -> OtlpGrpcConfig {
        OtlpGrpcConfig { endpoint: endpoint.to_owned(), ..self.clone() }
    }

    /// The queue, retry and timeout settings for the exporter helper.
    pub fn helper_settings(&self) -> HelperSettings {
        HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        }
    }

    /// The export call for `signal` to this config's endpoint.
    pub fn export(&self, signal: Signal, authenticators: &Authenticators) -> anyhow::Result<OtlpGrpcExport> {
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let name = http::HeaderName::from_str(&k.to_ascii_lowercase())?;
            let value =
                http::HeaderValue::from_str(v).map_err(|_| anyhow::anyhow!("header {k} has an invalid value"))?;
            headers.insert(name, value);
        }
        Ok(OtlpGrpcExport {
            endpoint: self.endpoint.clone(),
            channel: self.channel()?,
            path: signal.grpc_path(),
            headers,
            auth: self.auth.as_ref().map(|a| authenticators.client(a)).transpose()?,
            gzip: !self.compression.is_none(),
        })
    }

    /// The URI to dial: otelcol accepts `host:port` and `scheme://host:port`.
    fn target(&self) -> Result<String, String> {
        let ep = self.endpoint.trim();
        let rest = ep.strip_prefix("http://").or_else(|| ep.strip_prefix("https://")).unwrap_or(ep);
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("{ep:?} must be host:port, optionally with http:// or https://"));
        }
        let scheme = if self.plaintext() { "http" } else { "https" };
        let uri = format!("{scheme}://{rest}");
        http::Uri::from_str(&uri).map_err(|e| format!("{ep:?} is not a valid address: {e}"))?;
        Ok(uri)
    }

    fn channel(&self) -> anyhow::Result<Channel> {
        let mut endpoint = Endpoint::from_shared(self.target().map_err(anyhow::Error::msg)?)?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_adaptive_window(true);
        if !self.plaintext() {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = self.tls.ca_pem_bytes()? {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = self.tls.identity_pem()? {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            if let Some(name) = &self.tls.server_name_override {
                tls = tls.domain_name(name.clone());
            }
            endpoint = endpoint.tls_config(tls)?;
        }
        Ok(endpoint.connect_lazy())
    }
}

/// One OTLP/gRPC destination: sends a batch once (the helper retries).
pub struct OtlpGrpcExport {
    endpoint: String,
    channel: Channel,
    path: &'static str,
    headers: http::HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    gzip: bool,
}

/// Bodies above this size are compressed on the blocking pool.
const INLINE_COMPRESS_MAX: usize = 64 * 1024;

impl Export for OtlpGrpcExport {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let mut payload = batch.encoded();
            if self.gzip {
                let compress = move || grpc_client::gzip_fast(&payload).map(Bytes::from);
                let compressed = if batch.encoded_len() <= INLINE_COMPRESS_MAX {
                    compress()
                } else {
                    tokio::task::spawn_blocking(compress).await.map_err(|e| ExportError::Permanent(e.to_string()))?
                };
                payload = compressed.map_err(|e| ExportError::Permanent(format!("gzip: {e}")))?;
            }
            let headers = match &self.auth {
                None => Cow::Borrowed(&self.headers),
                Some(auth) => {
                    let (name, value) = auth.header().map_err(|e| ExportError::Permanent(format!("auth: {e}")))?;
                    let mut headers = self.headers.clone();
                    headers.insert(name, value);
                    Cow::Owned(headers)
                }
            };
            match grpc_client::unary(&self.channel, self.path, &headers, payload, self.gzip).await {
                Ok(response) => Ok(PartialSuccess::decode_response(&response).unwrap_or_default()),
                Err(status) => Err(match classify(&status) {
                    ExportError::Retryable { message, retry_after } => {
                        ExportError::Retryable { message: format!("{}: {message}", self.endpoint), retry_after }
                    }
                    ExportError::Permanent(message) => ExportError::Permanent(format!("{}: {message}", self.endpoint)),
                }),
            }
        })
    }
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
