//! The `jaeger` exporter: spans to a Jaeger collector over gRPC
//! (`jaeger.api_v2.CollectorService/PostSpans`, port 14250), which Jaeger v1
//! collectors and Jaeger v2's `jaeger` receiver accept. otelcol-contrib
//! removed it in 2023 (v0.85); it is kept so configs that still name it run.
//! Jaeger takes OTLP natively on 4317, so the `otlp` exporter is the modern path.
//! Settings are the `otlp` exporter's; compression is off by default, as upstream.

mod model;
mod translate;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message;
use serde::Deserialize;
use tonic::metadata::MetadataKey;
use tonic::transport::Channel;

use super::client::{Compression, TlsClientConfig};
use super::grpc;
use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::config::types::GoDuration;
use crate::otlp::data::Decoded;
use crate::otlp::{grpc_client, PartialSuccess};
use crate::runtime::auth::{AuthSettings, ClientAuth};
use crate::runtime::ExtensionRef;
use crate::signal::{Batch, Signal};

pub use model::{Batch as JaegerBatch, PostSpansRequest};
pub use translate::batches;

/// Shown once when a config names this exporter (at `validate` and at start).
pub const REMOVED: &str = "the jaeger exporter was removed from otelcol-contrib (v0.85); it still works here, but Jaeger takes OTLP natively: switch to the otlp exporter with endpoint jaeger:4317";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JaegerConfig {
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
}

impl Default for JaegerConfig {
    fn default() -> Self {
        JaegerConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Compression::None,
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

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "jaeger",
        signals: &[Signal::Traces],
        deprecated: Some(REMOVED),
        parse: |v| Ok(Box::new(parse_section::<JaegerConfig>(v)?)),
    }
}

impl Validate for JaegerConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.endpoint.trim().is_empty() {
            return Err(Invalid::at("endpoint", "is required, like \"jaeger:14250\""));
        }
        grpc::target(&self.endpoint, &self.tls).map_err(|e| Invalid::at("endpoint", e))?;
        if self.tls.insecure_skip_verify && !grpc::plaintext(&self.endpoint, &self.tls) {
            return Err(Invalid::at(
                "tls.insecure_skip_verify",
                "is not supported by the gRPC exporters; give the server's CA in tls.ca_file instead",
            ));
        }
        for key in self.headers.keys() {
            MetadataKey::<tonic::metadata::Ascii>::from_str(&key.to_ascii_lowercase())
                .map_err(|_| Invalid::at(format!("headers.{key}"), "is not a valid gRPC header name"))?;
        }
        if self.compression == Compression::Zstd {
            return Err(Invalid::at("compression", "zstd is not supported by the jaeger exporter; use gzip or none"));
        }
        if let Some(b) = self.balancer_name.as_deref().filter(|b| !matches!(*b, "pick_first" | "round_robin")) {
            return Err(Invalid::at(
                "balancer_name",
                format!("{b:?} is not a gRPC balancer; use pick_first or round_robin"),
            ));
        }
        self.tls.validate()?;
        self.client_options().validate()?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl JaegerConfig {
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

impl ExporterConfig for JaegerConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).chain(self.sending_queue.storage_ref()).collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let mut headers = http::HeaderMap::new();
        for (k, v) in &self.headers {
            let name = http::HeaderName::from_str(&k.to_ascii_lowercase())?;
            let value =
                http::HeaderValue::from_str(v).map_err(|_| anyhow::anyhow!("header {k} has an invalid value"))?;
            headers.insert(name, value);
        }
        let export = Jaeger {
            endpoint: self.endpoint.clone(),
            channel: grpc::channel(&self.endpoint, &self.tls, self.client_options())?,
            headers,
            auth: self.auth.as_ref().map(|a| ctx.host.client_auth(a)).transpose()?,
            gzip: self.compression == Compression::Gzip,
        };
        let settings = HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        };
        helper::build_for(&ctx, signal, Box::new(export), settings)
    }
}

struct Jaeger {
    endpoint: String,
    channel: Channel,
    headers: http::HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    gzip: bool,
}

impl Export for Jaeger {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let Decoded::Traces(resources) = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))? else {
                return Err(ExportError::Permanent("the jaeger exporter takes traces only".into()));
            };
            let mut headers = self.headers.clone();
            if let Some(auth) = &self.auth {
                let (name, value) = auth.header().map_err(|e| ExportError::Permanent(format!("auth: {e}")))?;
                headers.insert(name, value);
            }
            // One PostSpans per resource, as upstream; a resource without spans sends nothing.
            for jb in batches(&resources).into_iter().filter(|b| !b.spans.is_empty()) {
                let payload = Bytes::from(PostSpansRequest { batch: Some(jb) }.encode_to_vec());
                let frame = if self.gzip {
                    grpc_client::Frame::gzip(&payload).map_err(|e| ExportError::Permanent(format!("gzip: {e}")))?
                } else {
                    grpc_client::Frame::plain(payload).map_err(|s| ExportError::Permanent(s.message().to_owned()))?
                };
                grpc_client::unary(&self.channel, model::POST_SPANS_PATH, &headers, frame).await.map_err(|status| {
                    match grpc::classify(&status) {
                        ExportError::Retryable { message, retry_after } => {
                            ExportError::Retryable { message: format!("{}: {message}", self.endpoint), retry_after }
                        }
                        ExportError::Permanent(m) => ExportError::Permanent(format!("{}: {m}", self.endpoint)),
                    }
                })?;
            }
            Ok(PartialSuccess::default())
        })
    }
}
