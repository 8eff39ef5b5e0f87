//! The `jaeger` exporter: spans to a Jaeger collector over gRPC
//! (`jaeger.api_v2.CollectorService/PostSpans`, port 14250), which Jaeger v1
//! collectors and Jaeger v2's `jaeger` receiver accept. otelcol-contrib
//! removed it in 2023 (v0.85); it is kept so configs that still name it run.
//! Jaeger takes OTLP natively on 4317, so the `otlp` exporter is the modern path.
//! Settings are the `otlp` exporter's; compression is off by default, as upstream.

mod model;
mod translate;

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use prost::Message;
use tonic::transport::Channel;

use super::client::Compression;
use super::grpc;
use super::helper::{self, Export, ExportError};
use super::otlp_sender::OtlpGrpcConfig;
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::otlp::data::Decoded;
use crate::otlp::{grpc_client, PartialSuccess};
use crate::runtime::auth::ClientAuth;
use crate::runtime::ExtensionRef;
use crate::signal::{Batch, Signal};

pub use model::{Batch as JaegerBatch, PostSpansRequest};
pub use translate::batches;

/// Shown once when a config names this exporter (at `validate` and at start).
pub const REMOVED: &str = "the jaeger exporter was removed from otelcol-contrib (v0.85); it still works here, but Jaeger takes OTLP natively: switch to the otlp exporter with endpoint jaeger:4317";

/// The `otlp` exporter's settings; only the default compression differs
/// (none, as upstream's jaeger exporter).
#[derive(Debug, Clone)]
pub struct JaegerConfig(pub OtlpGrpcConfig);

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "jaeger",
        signals: &[Signal::Traces],
        deprecated: Some(REMOVED),
        parse: |v| {
            let explicit = v.get("compression").is_some_and(|c| !c.is_null());
            let mut cfg = parse_section::<OtlpGrpcConfig>(v)?;
            if !explicit {
                cfg.compression = Compression::None;
            }
            Ok(Box::new(JaegerConfig(cfg)))
        },
    }
}

impl Validate for JaegerConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.0.needed_files()
    }

    fn validate(&self) -> Result<(), Invalid> {
        let c = &self.0;
        if c.endpoint.trim().is_empty() {
            return Err(Invalid::at("endpoint", "is required, like \"jaeger:14250\""));
        }
        c.target().map_err(|e| Invalid::at("endpoint", e))?;
        if c.compression == Compression::Zstd {
            return Err(Invalid::at("compression", "zstd is not supported by the jaeger exporter; use gzip or none"));
        }
        c.validate_client()
    }
}

impl ExporterConfig for JaegerConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.0.auth.iter().map(|a| a.reference("auth")).chain(self.0.sending_queue.storage_ref()).collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let c = &self.0;
        let export = Jaeger {
            endpoint: c.endpoint.clone(),
            channel: c.channel()?,
            headers: c.header_map()?,
            auth: c.auth.as_ref().map(|a| ctx.host.client_auth(a)).transpose()?,
            gzip: c.compression == Compression::Gzip,
        };
        helper::build_for(&ctx, signal, Box::new(export), c.helper_settings())
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
