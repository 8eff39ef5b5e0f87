//! The `zipkin` receiver (otelcol-contrib's `zipkinreceiver`): Zipkin
//! clients POST spans to `/api/v1/spans` (v1 JSON) or `/api/v2/spans` (v2
//! JSON or protobuf); spans are translated to OTLP as upstream's
//! `pkg/translator/zipkin` does and handed to the traces pipelines, and the
//! client gets 202 Accepted once the pipelines took them.
//! `http.rs` serves, `json.rs`/`proto.rs` parse v2, `v1.rs` parses and maps
//! v1, `translate.rs` maps v2 spans (`model.rs`) to OTLP.

mod http;
mod json;
mod model;
mod proto;
mod translate;
mod v1;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::component::{
    parse_section, BuildContext, BuildResult, Factory, Invalid, NeededFile, ReceiverConfig, Running, SignalConsumers,
    Validate,
};
use crate::config::types::split_host_port;
use crate::receivers::http_server::CorsConfig;
use crate::runtime::{ExtensionRef, TaskGroup};
use crate::signal::Signal;

/// otelcol-contrib's zipkin receiver settings: its own `parse_string_tags`
/// plus confighttp's server settings, with the same defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZipkinReceiverConfig {
    pub endpoint: String,
    /// tags that look like ints, doubles or bools become typed attributes
    pub parse_string_tags: bool,
    pub max_request_body_size: usize,
    pub cors: Option<CorsConfig>,
    /// refused when true: request metadata is not propagated here
    pub include_metadata: bool,
    pub compression_algorithms: Option<Vec<String>>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub response_headers: BTreeMap<String, String>,
    pub tls: Option<crate::tls::TlsServerConfig>,
    pub auth: Option<crate::runtime::AuthSettings>,
}

impl Default for ZipkinReceiverConfig {
    fn default() -> Self {
        ZipkinReceiverConfig {
            endpoint: "localhost:9411".into(),
            parse_string_tags: false,
            max_request_body_size: 20 * 1024 * 1024,
            cors: None,
            include_metadata: false,
            compression_algorithms: None,
            response_headers: BTreeMap::new(),
            tls: None,
            auth: None,
        }
    }
}

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "zipkin",
        signals: &[Signal::Traces],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<ZipkinReceiverConfig>(v)?)),
    }
}

impl Validate for ZipkinReceiverConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.as_ref().map(|t| t.needed_files("tls")).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), Invalid> {
        split_host_port(&self.endpoint).map_err(|e| Invalid::at("endpoint", e))?;
        if self.include_metadata {
            return Err(Invalid::at("include_metadata", crate::receivers::http_server::INCLUDE_METADATA));
        }
        if self.compression_algorithms.is_some() {
            return Err(Invalid::at("compression_algorithms", crate::receivers::http_server::COMPRESSION_ALGORITHMS));
        }
        if let Some(tls) = &self.tls {
            tls.validate("tls")?;
        }
        if self.max_request_body_size == 0 {
            return Err(Invalid::at("max_request_body_size", "must be greater than 0"));
        }
        Ok(())
    }
}

impl ReceiverConfig for ZipkinReceiverConfig {
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).collect()
    }

    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let Some(traces) = consumers.traces.clone() else {
                anyhow::bail!("the zipkin receiver takes traces only: list it in a traces pipeline");
            };
            let auth = self.auth.as_ref().map(|a| ctx.host.server_auth(a)).transpose()?;
            let group = TaskGroup::new(format!("receiver {}", ctx.id));
            let stop = group.shutdown_signal().token();
            group.add(http::serve(self, &ctx, traces, auth, stop).await?);
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_otelcol_contrib() {
        let c = parse_section::<ZipkinReceiverConfig>(serde_json::Value::Null).unwrap();
        assert_eq!(c.endpoint, "localhost:9411");
        assert!(!c.parse_string_tags);
        assert_eq!(c.max_request_body_size, 20 * 1024 * 1024);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_endpoints_are_refused() {
        let err = parse_section::<ZipkinReceiverConfig>(serde_json::json!({"endpoint": "x:9411", "parse_tags": true}))
            .unwrap_err();
        assert!(err.to_string().contains("parse_tags"), "{err}");
        let c = parse_section::<ZipkinReceiverConfig>(serde_json::json!({"endpoint": "localhost"})).unwrap();
        assert_eq!(c.validate().unwrap_err().path, "endpoint");
        let c = parse_section::<ZipkinReceiverConfig>(serde_json::json!({
            "endpoint": "0.0.0.0:9411", "parse_string_tags": true,
            "cors": {"allowed_origins": ["http://*.example.com"]}, "max_request_body_size": 1024
        }))
        .unwrap();
        assert!(c.parse_string_tags && c.validate().is_ok());
    }
}
