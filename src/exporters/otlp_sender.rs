//! OTLP over gRPC as every exporter that speaks it sends: the `otlp`
//! exporter's settings ([`OtlpGrpcConfig`]), the lazily connecting channel
//! they describe, and one export call ([`OtlpGrpcExport`]). Shared by the
//! `otlp` exporter (one endpoint) and `loadbalancing` (one per backend).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Deserialize;
use tonic::metadata::MetadataKey;
use tonic::transport::Channel;

use super::client::{Compression, TlsClientConfig};
use super::grpc::{self, classify};
use super::helper::{Export, ExportError, HelperSettings, QueueConfig, Request, RetryConfig};
use crate::component::{Invalid, NeededFile, Validate};
use crate::config::types::GoDuration;
use crate::otlp::grpc_client;
use crate::otlp::PartialSuccess;
use crate::runtime::auth::{AuthSettings, ClientAuth};
use crate::runtime::Host;
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
    pub keepalive: Option<grpc::Keepalive>,
    pub balancer_name: Option<String>,
    pub authority: Option<String>,
    pub wait_for_ready: bool,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub auth: Option<AuthSettings>,
    /// refused: the older place of sending_queue.batch
    pub batcher: Option<serde_json::Value>,
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
            batcher: None,
        }
    }
}

impl Validate for OtlpGrpcConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

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
        if let Some(b) = self.balancer_name.as_deref().filter(|b| !matches!(*b, "pick_first" | "round_robin")) {
            return Err(Invalid::at(
                "balancer_name",
                format!("{b:?} is not a gRPC balancer; use pick_first or round_robin"),
            ));
        }
        if self.batcher.is_some() {
            return Err(Invalid::at("batcher", super::helper::BATCHER));
        }
        if self.tls.versions().len() < 2 {
            return Err(Invalid::at(
                "tls.min_version",
                "limiting the TLS version is not supported by the gRPC exporters (they negotiate 1.2 or 1.3 as \
                 the server offers); remove min_version and max_version",
            ));
        }
        self.tls.validate()?;
        self.client_options().validate()?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl OtlpGrpcConfig {
    fn plaintext(&self) -> bool {
        grpc::plaintext(&self.endpoint, &self.tls)
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

    /// `headers` as gRPC metadata.
    pub fn header_map(&self) -> anyhow::Result<http::HeaderMap> {
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let name = http::HeaderName::from_str(&k.to_ascii_lowercase())?;
            let value =
                http::HeaderValue::from_str(v).map_err(|_| anyhow::anyhow!("header {k} has an invalid value"))?;
            headers.insert(name, value);
        }
        Ok(headers)
    }

    /// The export call for `signal` to this config's endpoint.
    pub fn export(&self, signal: Signal, host: &Host) -> anyhow::Result<OtlpGrpcExport> {
        Ok(OtlpGrpcExport {
            endpoint: self.endpoint.clone(),
            channel: self.channel()?,
            path: signal.grpc_path(),
            headers: self.header_map()?,
            auth: self.auth.as_ref().map(|a| host.client_auth(a)).transpose()?,
            gzip: !self.compression.is_none(),
        })
    }

    /// The gRPC target the endpoint names (checked by `validate`).
    pub fn target(&self) -> Result<String, String> {
        grpc::target(&self.endpoint, &self.tls)
    }

    /// A channel to the endpoint with this config's TLS and client options.
    pub fn channel(&self) -> anyhow::Result<Channel> {
        grpc::channel(&self.endpoint, &self.tls, self.client_options())
    }

    fn client_options(&self) -> grpc::ClientOptions<'_> {
        grpc::ClientOptions {
            keepalive: self.keepalive.as_ref(),
            authority: self.authority.as_deref(),
            wait_for_ready: self.wait_for_ready,
            read_buffer_size: self.read_buffer_size,
            write_buffer_size: self.write_buffer_size,
        }
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

impl OtlpGrpcExport {
    async fn send(&self, frame: grpc_client::Frame) -> Result<PartialSuccess, ExportError> {
        let headers = match &self.auth {
            None => Cow::Borrowed(&self.headers),
            Some(auth) => {
                let (name, value) = auth.header().map_err(|e| ExportError::Permanent(format!("auth: {e}")))?;
                let mut headers = self.headers.clone();
                headers.insert(name, value);
                Cow::Owned(headers)
            }
        };
        match grpc_client::unary(&self.channel, self.path, &headers, frame).await {
            Ok(response) => Ok(PartialSuccess::decode_response(&response).unwrap_or_default()),
            Err(status) => Err(match classify(&status) {
                ExportError::Retryable { message, retry_after } => {
                    ExportError::Retryable { message: format!("{}: {message}", self.endpoint), retry_after }
                }
                ExportError::Permanent(message) => ExportError::Permanent(format!("{}: {message}", self.endpoint)),
            }),
        }
    }
}

/// The batch's encoded request gzip-compressed into a whole gRPC frame; large
/// ones on the blocking pool.
async fn gzip_frame(batch: &Batch) -> Result<Bytes, ExportError> {
    let payload = batch.encoded();
    let compress = move || grpc_client::Frame::gzip_wire(&payload);
    let compressed = if batch.encoded_len() <= INLINE_COMPRESS_MAX {
        compress()
    } else {
        tokio::task::spawn_blocking(compress).await.map_err(|e| ExportError::Permanent(e.to_string()))?
    };
    compressed.map_err(|e| ExportError::Permanent(format!("gzip: {e}")))
}

impl Export for OtlpGrpcExport {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let frame = if self.gzip {
                grpc_client::Frame::from_gzip_wire(gzip_frame(&batch).await?)
            } else {
                grpc_client::Frame::plain(batch.encoded())
                    .map_err(|s| ExportError::Permanent(s.message().to_owned()))?
            };
            self.send(frame).await
        })
    }

    /// With gzip, the batch is compressed once and only the frame is kept
    /// for the attempts: a batch of 8,192 spans is ~3.7 MB encoded and
    /// ~0.6 MB compressed.
    fn prepare(&self, batch: Batch) -> BoxFuture<'_, Result<Request, ExportError>> {
        Box::pin(async move {
            if !self.gzip {
                return Ok(Request::Batch(batch));
            }
            Ok(Request::Body(gzip_frame(&batch).await?))
        })
    }

    fn export_body(&self, body: Bytes) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(self.send(grpc_client::Frame::from_gzip_wire(body)))
    }
}
