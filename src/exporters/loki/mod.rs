//! The `loki` exporter: logs to Loki's push API (`/loki/api/v1/push`,
//! protobuf `logproto.PushRequest`, snappy block compression), with
//! otelcol-contrib's label rules (see [`translate`]) and one request per
//! tenant (`X-Scope-OrgID`). otelcol-contrib deprecated and then removed it;
//! it is kept so configs that still name it run. Loki 3 takes OTLP natively
//! at `/otlp`, so the `otlphttp` exporter is the modern path.

mod encode;
mod proto;
mod translate;

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use prost::Message;
use serde::Deserialize;

use super::client::{parse_retry_after, Compression, TlsClientConfig};
use super::helper::{self, Export, ExportError, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::config::types::GoDuration;
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::runtime::auth::{AuthSettings, ClientAuth};
use crate::runtime::ExtensionRef;
use crate::signal::{Batch, Signal};

pub use proto::{Entry, PushRequest, Stream};
pub use translate::{requests, DefaultLabels, TenantRequest};

/// Shown once when a config names this exporter (at `validate` and at start).
pub const REMOVED: &str = "the loki exporter was removed from otelcol-contrib; it still works here, but Loki 3 takes OTLP natively: switch to the otlphttp exporter with endpoint http://<loki>:3100/otlp (see docs/legacy-exporters.md)";

const DEFAULT_LABELS: [&str; 4] = ["exporter", "job", "instance", "level"];
/// The exporter reads at most this much of an error response.
const MAX_ERROR_BODY: usize = 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LokiConfig {
    pub endpoint: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub tls: TlsClientConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub headers: BTreeMap<String, String>,
    pub timeout: GoDuration,
    pub compression: Compression,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub sending_queue: QueueConfig,
    /// `exporter`, `job`, `instance`, `level`: each default label on unless set false
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub default_labels_enabled: BTreeMap<String, bool>,
    pub read_buffer_size: Option<u64>,
    pub write_buffer_size: Option<u64>,
    pub max_idle_conns: Option<u64>,
    pub idle_conn_timeout: Option<GoDuration>,
    pub disable_keep_alives: bool,
    pub proxy_url: Option<String>,
    pub auth: Option<AuthSettings>,
}

impl Default for LokiConfig {
    fn default() -> Self {
        LokiConfig {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            headers: BTreeMap::new(),
            timeout: GoDuration::secs(30),
            compression: Compression::None,
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
            default_labels_enabled: BTreeMap::new(),
            read_buffer_size: None,
            write_buffer_size: None,
            max_idle_conns: None,
            idle_conn_timeout: None,
            disable_keep_alives: false,
            proxy_url: None,
            auth: None,
        }
    }
}

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "loki",
        signals: &[Signal::Logs],
        deprecated: Some(REMOVED),
        parse: |v| Ok(Box::new(parse_section::<LokiConfig>(v)?)),
    }
}

impl Validate for LokiConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.needed_files("tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        let ep = self.endpoint.trim();
        if ep.is_empty() {
            return Err(Invalid::at("endpoint", "is required, like \"http://loki:3100/loki/api/v1/push\""));
        }
        let url = reqwest::Url::parse(ep).map_err(|e| {
            Invalid::at(
                "endpoint",
                format!("{ep:?} is not a valid URL ({e}); write it like \"http://loki:3100/loki/api/v1/push\""),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Invalid::at("endpoint", format!("{ep:?} must start with http:// or https://")));
        }
        for key in self.default_labels_enabled.keys() {
            if !DEFAULT_LABELS.contains(&key.as_str()) {
                return Err(Invalid::at(
                    format!("default_labels_enabled.{key}"),
                    "is not a default label; the default labels are exporter, job, instance and level",
                ));
            }
        }
        if !self.compression.is_none() {
            return Err(Invalid::at(
                "compression",
                "Loki push requests are always snappy-compressed protobuf; remove compression or set it to none",
            ));
        }
        if self.proxy_url.is_some() {
            return Err(Invalid::at("proxy_url", "proxies are not supported"));
        }
        crate::exporters::client::refuse_connection_tuning(&[
            ("read_buffer_size", self.read_buffer_size.is_some()),
            ("write_buffer_size", self.write_buffer_size.is_some()),
            ("max_idle_conns", self.max_idle_conns.is_some()),
            ("idle_conn_timeout", self.idle_conn_timeout.is_some()),
            ("disable_keep_alives", self.disable_keep_alives),
        ])?;
        self.tls.validate()?;
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl LokiConfig {
    fn defaults(&self) -> DefaultLabels {
        let on = |k: &str| self.default_labels_enabled.get(k).copied().unwrap_or(true);
        DefaultLabels { exporter: on("exporter"), job: on("job"), instance: on("instance"), level: on("level") }
    }
}

impl ExporterConfig for LokiConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).chain(self.sending_queue.storage_ref()).collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let client = crate::exporters::client::http_client(&self.tls, &[b"h2", b"http/1.1"], &self.headers)?;
        let auth = self.auth.as_ref().map(|a| ctx.host.client_auth(a)).transpose()?;
        let export = Loki { client, url: self.endpoint.trim().to_owned(), defaults: self.defaults(), auth };
        let settings = HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        };
        helper::build_for(&ctx, signal, Box::new(export), settings)
    }
}

struct Loki {
    client: reqwest::Client,
    url: String,
    defaults: DefaultLabels,
    auth: Option<std::sync::Arc<dyn ClientAuth>>,
}

impl Loki {
    async fn push(&self, tenant: &str, request: &PushRequest) -> Result<(), ExportError> {
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| ExportError::Permanent(format!("snappy: {e}")))?;
        let mut req = self.client.post(&self.url).header("content-type", "application/x-protobuf").body(body);
        if !tenant.is_empty() {
            req = req.header("X-Scope-OrgID", tenant);
        }
        if let Some(auth) = &self.auth {
            let (name, value) = auth.header().map_err(|e| ExportError::Permanent(format!("auth: {e}")))?;
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| ExportError::retryable(format!("{}: {e}", self.url)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
        let text = resp.bytes().await.unwrap_or_default();
        let first_line = String::from_utf8_lossy(&text[..text.len().min(MAX_ERROR_BODY)]);
        let first_line = first_line.lines().next().unwrap_or_default();
        let message = format!("HTTP {status} from {}: {first_line}", self.url);
        // as upstream: 4xx other than 429 are permanent, everything else is retried
        Err(if status.is_client_error() && status.as_u16() != 429 {
            ExportError::Permanent(message)
        } else {
            ExportError::Retryable { message, retry_after }
        })
    }
}

impl Export for Loki {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let Decoded::Logs(resources) = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))? else {
                return Err(ExportError::Permanent("the loki exporter takes logs only".into()));
            };
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
            let tenants = requests(&resources, self.defaults, now);
            let (submitted, dropped): (usize, usize) =
                tenants.iter().fold((0, 0), |(s, d), t| (s + t.submitted, d + t.dropped));
            let first_error = tenants.iter().flat_map(|t| t.errors.first()).next().cloned().unwrap_or_default();
            if submitted == 0 && dropped > 0 {
                return Err(ExportError::Permanent(first_error));
            }
            for t in tenants.iter().filter(|t| !t.request.streams.is_empty()) {
                self.push(&t.tenant, &t.request).await?;
            }
            Ok(PartialSuccess { rejected: dropped as i64, error_message: first_error })
        })
    }
}
