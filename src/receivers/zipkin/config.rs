//! The `zipkin` receiver's settings and their validation.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::component::{Invalid, NeededFile, Validate};
use crate::config::types::split_host_port;
use crate::receivers::http_server::CorsConfig;

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

/// Newer otelcol-contrib releases put the server settings under
/// `protocols.http`, keeping the top-level keys as a deprecated form. Both
/// are read: `protocols.http`'s keys are laid over the top-level ones (they
/// win where both are set, as upstream's unmarshal does). Anything else
/// under `protocols` is left in place for the parser to refuse.
pub fn lift_protocols(mut v: serde_json::Value) -> serde_json::Value {
    let Some(obj) = v.as_object_mut() else { return v };
    let Some(protocols) = obj.get("protocols").and_then(|p| p.as_object()) else { return v };
    if protocols.keys().any(|k| k != "http") {
        return v;
    }
    let http = protocols.get("http").cloned().unwrap_or_default();
    obj.remove("protocols");
    if let Some(http) = http.as_object() {
        for (k, val) in http {
            obj.insert(k.clone(), val.clone());
        }
    }
    v
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::parse_section;

    #[test]
    fn defaults_follow_otelcol_contrib() {
        let c = parse_section::<ZipkinReceiverConfig>(serde_json::Value::Null).unwrap();
        assert_eq!(c.endpoint, "localhost:9411");
        assert!(!c.parse_string_tags);
        assert_eq!(c.max_request_body_size, 20 * 1024 * 1024);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn protocols_http_is_read_and_wins_over_the_deprecated_top_level_keys() {
        let parse = |v| parse_section::<ZipkinReceiverConfig>(lift_protocols(v));
        let c = parse(serde_json::json!({"protocols": {"http": {"endpoint": "localhost:8765"}}})).unwrap();
        assert_eq!(c.endpoint, "localhost:8765");
        let c = parse(serde_json::json!({"endpoint": "localhost:8766", "parse_string_tags": true,
                                         "protocols": {"http": {"endpoint": "localhost:8765"}}}))
        .unwrap();
        assert_eq!((c.endpoint.as_str(), c.parse_string_tags), ("localhost:8765", true));
        assert_eq!(parse(serde_json::json!({"protocols": {"http": null}})).unwrap().endpoint, "localhost:9411");
        let err = parse(serde_json::json!({"protocols": {"grpc": {}}})).unwrap_err();
        assert!(err.to_string().contains("protocols"), "{err}");
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
