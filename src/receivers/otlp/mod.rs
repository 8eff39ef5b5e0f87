//! The `otlp` receiver: OTLP over gRPC (`protocols.grpc`) and HTTP
//! (`protocols.http`), one listener each, shared by every pipeline that
//! names the receiver. Requests are validated and counted on the wire and
//! passed on as bytes; the sender is answered only after the pipeline took
//! the data.
//! Both protocols take `tls` (served by `crate::tls`) and `auth` (checked
//! on the headers before the body is read).

mod grpc;
pub mod http;
mod ingest;

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::{Deserialize, Deserializer};

use ingest::Ingest;

use crate::component::{
    parse_section, BuildContext, BuildResult, Factory, Invalid, NeededFile, ReceiverConfig, Running, SignalConsumers,
    Validate,
};
use crate::config::types::split_host_port;
use crate::runtime::{AuthSettings, ExtensionRef, ServerAuth, TaskGroup};
use crate::signal::Signal;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpReceiverConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub protocols: Protocols,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocols {
    /// `grpc:` with no value enables the protocol with its defaults
    #[serde(deserialize_with = "present")]
    pub grpc: Option<grpc::GrpcConfig>,
    #[serde(deserialize_with = "present")]
    pub http: Option<http::HttpConfig>,
}

/// A key that is present is `Some`, even with an empty (null) value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<Option<T>, D::Error> {
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// The server side of a protocol's `auth.authenticator`, if it has one.
fn server_auth(ctx: &BuildContext, auth: &Option<AuthSettings>) -> anyhow::Result<Option<Arc<dyn ServerAuth>>> {
    auth.as_ref().map(|a| ctx.host.server_auth(a)).transpose()
}

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "otlp",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<OtlpReceiverConfig>(v)?)),
    }
}

impl Validate for OtlpReceiverConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        let grpc =
            self.protocols.grpc.as_ref().and_then(|g| g.tls.as_ref()).map(|t| t.needed_files("protocols.grpc.tls"));
        let http =
            self.protocols.http.as_ref().and_then(|h| h.tls.as_ref()).map(|t| t.needed_files("protocols.http.tls"));
        grpc.into_iter().chain(http).flatten().collect()
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            return Err(Invalid::at("protocols", "enable at least one protocol: grpc or http"));
        }
        if let Some(g) = &self.protocols.grpc {
            // options first: `transport: unix` explains an endpoint that is a path
            g.validate_options().map_err(|e| Invalid::at(format!("protocols.grpc.{}", e.path), e.message))?;
            split_host_port(&g.endpoint).map_err(|e| Invalid::at("protocols.grpc.endpoint", e))?;
            if let Some(tls) = &g.tls {
                tls.validate("protocols.grpc.tls")?;
            }
        }
        if let Some(h) = &self.protocols.http {
            split_host_port(&h.endpoint).map_err(|e| Invalid::at("protocols.http.endpoint", e))?;
            if h.include_metadata {
                return Err(Invalid::at(
                    "protocols.http.include_metadata",
                    crate::receivers::http_server::INCLUDE_METADATA,
                ));
            }
            if h.compression_algorithms.is_some() {
                return Err(Invalid::at(
                    "protocols.http.compression_algorithms",
                    crate::receivers::http_server::COMPRESSION_ALGORITHMS,
                ));
            }
            if let Some(tls) = &h.tls {
                tls.validate("protocols.http.tls")?;
            }
            for (key, path) in [
                ("traces_url_path", &h.traces_url_path),
                ("metrics_url_path", &h.metrics_url_path),
                ("logs_url_path", &h.logs_url_path),
            ] {
                if !path.starts_with('/') {
                    return Err(Invalid::at(format!("protocols.http.{key}"), "must start with '/'"));
                }
            }
        }
        Ok(())
    }
}

impl ReceiverConfig for OtlpReceiverConfig {
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        let grpc =
            self.protocols.grpc.as_ref().and_then(|g| g.auth.as_ref()).map(|a| a.reference("protocols.grpc.auth"));
        let http =
            self.protocols.http.as_ref().and_then(|h| h.auth.as_ref()).map(|a| a.reference("protocols.http.auth"));
        grpc.into_iter().chain(http).collect()
    }

    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let group = TaskGroup::new(format!("receiver {}", ctx.id));
            let stop = group.shutdown_signal().token();
            let grpc_auth = server_auth(&ctx, &self.protocols.grpc.as_ref().and_then(|g| g.auth.clone()))?;
            let http_auth = server_auth(&ctx, &self.protocols.http.as_ref().and_then(|h| h.auth.clone()))?;
            if let Some(g) = &self.protocols.grpc {
                let ingest = Ingest::new(&ctx, &consumers, "grpc");
                group.add(grpc::serve(g, ingest, grpc_auth, stop.clone()).await?);
            }
            if let Some(h) = &self.protocols.http {
                let ingest = Ingest::new(&ctx, &consumers, "http");
                group.add(http::serve(h, ingest, http_auth, stop.clone()).await?);
            }
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}
