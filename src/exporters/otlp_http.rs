//! The `otlphttp` exporter (also `otlp_http`): OTLP over HTTP with protobuf
//! (or JSON) bodies, gzip by default, to `<endpoint>/v1/<signal>` or the
//! per-signal `*_endpoint` override.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::Value;

use super::client::{parse_retry_after, Compression, TlsClientConfig};
use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, Request, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::config::types::GoDuration;
use crate::otlp::{self, PartialSuccess};
use crate::runtime::auth::{AuthSettings, ClientAuth};
use crate::runtime::ExtensionRef;
use crate::signal::{Batch, Signal};

/// The exporter reads at most this much of a response body, as otelcol does.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    #[default]
    Proto,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpHttpConfig {
    pub endpoint: String,
    pub traces_endpoint: Option<String>,
    pub metrics_endpoint: Option<String>,
    pub logs_endpoint: Option<String>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub headers: BTreeMap<String, String>,
    pub compression: Compression,
    pub encoding: Encoding,
    pub timeout: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub sending_queue: QueueConfig,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub idle_conn_timeout: Option<GoDuration>,
    pub disable_keep_alives: bool,
    pub proxy_url: Option<String>,
    pub auth: Option<AuthSettings>,
    /// refused: the older place of sending_queue.batch
    pub batcher: Option<serde_json::Value>,
}

impl Default for OtlpHttpConfig {
    fn default() -> Self {
        OtlpHttpConfig {
            endpoint: String::new(),
            traces_endpoint: None,
            metrics_endpoint: None,
            logs_endpoint: None,
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            compression: Compression::Gzip,
            encoding: Encoding::Proto,
            timeout: GoDuration::secs(30),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
            disable_keep_alives: false,
            proxy_url: None,
            batcher: None,
            auth: None,
        }
    }
}

pub fn factory(type_name: &'static str, deprecated: Option<&'static str>) -> Factory<dyn ExporterConfig> {
    Factory {
        type_name,
        signals: &Signal::ALL,
        deprecated,
        parse: |v| Ok(Box::new(parse_section::<OtlpHttpConfig>(v)?)),
    }
}

impl Validate for OtlpHttpConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        let overrides = [&self.traces_endpoint, &self.metrics_endpoint, &self.logs_endpoint];
        if self.endpoint.trim().is_empty() && overrides.iter().all(|o| o.is_none()) {
            return Err(Invalid::at("endpoint", "is required, like \"http://collector:4318\""));
        }
        for signal in Signal::ALL {
            if let Some(url) = self.url(signal) {
                reqwest::Url::parse(&url)
                    .map_err(|e| Invalid::at("endpoint", format!("{url:?} is not a valid URL: {e}")))?;
            }
        }
        if self.proxy_url.is_some() {
            return Err(Invalid::at("proxy_url", "proxies are not supported"));
        }
        super::client::refuse_connection_tuning(&[
            ("read_buffer_size", self.read_buffer_size.is_some()),
            ("write_buffer_size", self.write_buffer_size.is_some()),
            ("max_idle_conns", self.max_idle_conns.is_some()),
            ("idle_conn_timeout", self.idle_conn_timeout.is_some()),
            ("disable_keep_alives", self.disable_keep_alives),
        ])?;
        if self.batcher.is_some() {
            return Err(Invalid::at("batcher", super::helper::BATCHER));
        }
        self.tls.validate()?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl OtlpHttpConfig {
    /// The full URL for a signal, or `None` when only other signals have one.
    fn url(&self, signal: Signal) -> Option<String> {
        let explicit = match signal {
            Signal::Traces => &self.traces_endpoint,
            Signal::Metrics => &self.metrics_endpoint,
            Signal::Logs => &self.logs_endpoint,
        };
        if let Some(url) = explicit {
            return Some(url.clone());
        }
        let base = self.endpoint.trim().trim_end_matches('/');
        if base.is_empty() {
            return None;
        }
        let base = if base.contains("://") {
            base.to_owned()
        } else if self.tls.insecure {
            format!("http://{base}")
        } else {
            format!("https://{base}")
        };
        Some(format!("{base}{}", signal.http_path()))
    }
}

impl ExporterConfig for OtlpHttpConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).chain(self.sending_queue.storage_ref()).collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let url = self
            .url(signal)
            .ok_or_else(|| anyhow::anyhow!("no endpoint for {signal}: set endpoint or {signal}_endpoint"))?;
        let client = crate::exporters::client::http_client(&self.tls, &[b"h2", b"http/1.1"], &self.headers)?;
        let auth = self.auth.as_ref().map(|a| ctx.host.client_auth(a)).transpose()?;
        let export = OtlpHttp { client, url, signal, compression: self.compression, encoding: self.encoding, auth };
        let settings = HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        };
        helper::build_for(&ctx, signal, Box::new(export), settings)
    }
}

struct OtlpHttp {
    client: reqwest::Client,
    url: String,
    signal: Signal,
    compression: Compression,
    encoding: Encoding,
    auth: Option<std::sync::Arc<dyn ClientAuth>>,
}

impl OtlpHttp {
    fn content_type(&self) -> &'static str {
        match self.encoding {
            Encoding::Proto => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }

    /// The request body: the encoded batch (protobuf as it is, or JSON),
    /// compressed as configured. Made once per batch.
    fn body(&self, batch: &Batch) -> Result<Bytes, ExportError> {
        let raw = match self.encoding {
            Encoding::Proto => batch.encoded(),
            Encoding::Json => {
                let decoded = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))?;
                Bytes::from(otlp::encode_json(&decoded))
            }
        };
        Ok(match self.compression {
            Compression::Gzip => {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::fast());
                let out = enc.write_all(&raw).and_then(|_| enc.finish());
                Bytes::from(out.map_err(|e| ExportError::Permanent(e.to_string()))?)
            }
            Compression::Zstd => {
                Bytes::from(zstd::bulk::compress(&raw, 1).map_err(|e| ExportError::Permanent(e.to_string()))?)
            }
            Compression::None | Compression::Empty => raw,
        })
    }

    async fn send(&self, body: Bytes) -> Result<PartialSuccess, ExportError> {
        let mut req = self.client.post(&self.url).header("content-type", self.content_type()).body(body);
        if let Some(auth) = &self.auth {
            let (name, value) = auth.header().map_err(|e| ExportError::Permanent(format!("auth: {e}")))?;
            req = req.header(name, value);
        }
        match self.compression {
            Compression::Gzip => req = req.header("content-encoding", "gzip"),
            Compression::Zstd => req = req.header("content-encoding", "zstd"),
            _ => {}
        }
        let resp = req.send().await.map_err(|e| ExportError::retryable(format!("{}: {e}", self.url)))?;
        let status = resp.status();
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let json = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
        let body = read_limited(resp).await;
        if status.is_success() {
            return Ok(if json {
                partial_from_json(&body, self.signal)
            } else {
                PartialSuccess::decode_response(&body).unwrap_or_default()
            });
        }
        let detail = if json {
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
        } else {
            otlp::status_message(&body)
        };
        let message =
            format!("HTTP {status} from {}{}", self.url, detail.map(|d| format!(": {d}")).unwrap_or_default());
        Err(match status.as_u16() {
            429 | 502 | 503 | 504 => ExportError::Retryable { message, retry_after },
            _ => ExportError::Permanent(message),
        })
    }
}

impl Export for OtlpHttp {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let body = self.body(&batch)?;
            self.send(body).await
        })
    }

    /// The body is made once and kept for every attempt instead of the
    /// batch (a fraction of it when compressed).
    fn prepare(&self, batch: Batch) -> BoxFuture<'_, Result<Request, ExportError>> {
        Box::pin(async move { Ok(Request::Body(self.body(&batch)?)) })
    }

    fn export_body(&self, body: Bytes) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(self.send(body))
    }
}

async fn read_limited(mut resp: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = MAX_RESPONSE_BODY - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_RESPONSE_BODY {
            break;
        }
    }
    out
}

fn partial_from_json(body: &[u8], signal: Signal) -> PartialSuccess {
    let Ok(v) = serde_json::from_slice::<Value>(body) else { return PartialSuccess::default() };
    let Some(p) = v.get("partialSuccess") else { return PartialSuccess::default() };
    let field = match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
    };
    let rejected = match p.get(field) {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(n) => n.as_i64().unwrap_or(0),
        None => 0,
    };
    let error_message = p.get("errorMessage").and_then(Value::as_str).unwrap_or_default().to_owned();
    PartialSuccess { rejected, error_message }
}
