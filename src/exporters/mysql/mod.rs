//! The `mysql` exporter (also `mariadb`): stores failed operations in
//! MariaDB/MySQL. Traces: spans with status ERROR or an `exception` event
//! (every span with `traces.mode: all`) go to `failed_spans`; logs at or
//! above `logs.min_severity` go to `error_logs`: the tables of
//! `crate::failure_store`, which `stackctl failures` reads. What
//! counts as a failure is [`crate::exporters::failure`], shared with the
//! `alert` exporter. Queue, retries and timeout are the shared helper's.
//!
//! Choices:
//! - Client crate: `mysql_async` rather than `sqlx`. Both are pure Rust,
//!   maintained and run their CI against MariaDB as well as MySQL; neither
//!   has a bulk-insert API beyond multi-row `VALUES` with placeholders, which
//!   we build ourselves ([`rows::insert_sql`]). `mysql_async` is a plain
//!   tokio client with a connection pool and the binary protocol, while
//!   `sqlx` brings its query macros, `any`/migrate layers and (0.9) a newer
//!   MSRV than this crate's; with `default-features = false` and
//!   `minimal-rust` (no derive, no TLS, flate2 in Rust) `mysql_async` built
//!   in under a minute here. TLS uses its `rustls-tls` + `ring` features,
//!   the same rustls and provider as the rest of the collector ([`tls`]).
//! - Reconnecting: the pool drops connections that fail; before each batch
//!   a pooled connection is pinged and replaced if the server restarted,
//!   and a failed batch is retried by the helper, so after a restart the
//!   next attempt runs on a fresh connection. Idle connections expire after
//!   a minute.
//! - Idempotency: `failed_spans` is unique on `(trace_id, span_id)` and
//!   `error_logs` on `record_hash` (sha256 of the record), and inserts are
//!   `INSERT ... ON DUPLICATE KEY UPDATE id = id`: retries and replays add
//!   no rows, and, unlike `INSERT IGNORE`, other errors stay errors.
//! - Bad input: strings are cut to their column size on a character
//!   boundary, bytes values are stored as base64 inside the JSON columns
//!   (OTLP strings are UTF-8 by the time they get here), and when a
//!   multi-row statement is refused by the server, its rows are inserted
//!   one by one so one bad row costs only itself (reported as rejected).

mod rows;
mod store;
pub mod tls;

use serde::Deserialize;

use super::client::TlsClientConfig;
use super::failure::LogsOptions;
use super::helper::{self, HelperSettings, QueueConfig, RetryConfig};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Invalid, NeededFile, Validate,
};
use crate::config::types::GoDuration;
use crate::failure_store::{dsn, schema, DEFAULT_DATABASE};
use crate::runtime::{ExtensionRef, Secret, TaskGroup};
use crate::signal::Signal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceMode {
    /// only spans with status ERROR or an `exception` event
    #[default]
    Errors,
    /// every span (a small span store; mind the volume)
    All,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesOptions {
    pub mode: TraceMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MysqlConfig {
    /// `mysql://user:pass@host:3306[/db]` or `user:pass@tcp(host:3306)/db`;
    /// put the password in the environment: `${env:MARIADB_PASSWORD}`
    pub endpoint: Secret,
    /// overrides the DSN's database; default `otelstack`
    pub database: Option<String>,
    /// TLS to the server: on when present (unless `insecure: true`)
    pub tls: Option<TlsClientConfig>,
    pub create_schema: bool,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub traces: TracesOptions,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub logs: LogsOptions,
    /// delete rows older than this (by start/log time) every so often; 0 keeps them
    pub retention: GoDuration,
    /// rows per INSERT statement
    pub batch_size: usize,
    pub timeout: GoDuration,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub retry_on_failure: RetryConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub sending_queue: QueueConfig,
}

impl Default for MysqlConfig {
    fn default() -> Self {
        MysqlConfig {
            endpoint: Secret::default(),
            database: None,
            tls: None,
            create_schema: true,
            traces: TracesOptions::default(),
            logs: LogsOptions::default(),
            retention: GoDuration::secs(0),
            batch_size: 500,
            timeout: GoDuration::secs(5),
            retry_on_failure: RetryConfig::default(),
            sending_queue: QueueConfig::default(),
        }
    }
}

pub fn factory(type_name: &'static str) -> Factory<dyn ExporterConfig> {
    Factory {
        type_name,
        signals: &[Signal::Traces, Signal::Logs],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<MysqlConfig>(v)?)),
    }
}

impl MysqlConfig {
    fn connection(&self) -> Result<(dsn::Dsn, String), Invalid> {
        let mut dsn = dsn::parse(self.endpoint.expose()).map_err(|e| Invalid::at("endpoint", e))?;
        let dsn_asks = tls::encrypts(&dsn.opts);
        if tls::wanted(self.tls.as_ref(), dsn_asks) {
            let t = self.tls.clone().unwrap_or_default();
            tls::validate(&t)?;
            dsn.opts = tls::apply(dsn.opts, &t).map_err(|e| Invalid::at("tls", e.to_string()))?;
        } else {
            dsn.opts = dsn.opts.ssl_opts(None);
        }
        let database = self.database.clone().or_else(|| dsn.database.clone()).unwrap_or(DEFAULT_DATABASE.into());
        schema::check_database_name(&database).map_err(|e| Invalid::at("database", e))?;
        Ok((dsn, database))
    }
}

impl Validate for MysqlConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.tls.as_ref().map(|t| t.needed_files("tls")).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), Invalid> {
        self.connection()?;
        if self.batch_size == 0 {
            return Err(Invalid::at("batch_size", "must be greater than 0"));
        }
        self.retry_on_failure.validate()?;
        self.sending_queue.validate()
    }
}

impl ExporterConfig for MysqlConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.sending_queue.storage_ref().into_iter().collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let (dsn, database) = self.connection().map_err(|e| anyhow::anyhow!("endpoint: {}", e.message))?;
        let store = store::Store::new(store::StoreSettings {
            name: ctx.id.to_string(),
            signal,
            tls: tls::encrypts(&dsn.opts),
            dsn,
            database,
            create_schema: self.create_schema,
            all_spans: self.traces.mode == TraceMode::All,
            min_severity: self.logs.min_severity,
            batch_size: self.batch_size,
            pool_max: self.sending_queue.num_consumers.max(1),
        });
        let settings = HelperSettings {
            timeout: self.timeout.0,
            retry: self.retry_on_failure.clone(),
            queue: self.sending_queue.clone(),
        };
        let retention = TaskGroup::new(format!("exporter {}", ctx.id));
        store.start_retention(self.retention.0, &retention);
        let built = helper::build_for(&ctx, signal, Box::new(store), settings)?;
        Ok(BuiltExporter { consumer: built.consumer, running: Box::new(retention.then(built.running)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporters::failure::Severity;

    fn parse(v: serde_json::Value) -> MysqlConfig {
        parse_section::<MysqlConfig>(v).unwrap()
    }

    #[test]
    fn defaults_and_database_choice() {
        let c = parse(serde_json::json!({"endpoint": "mysql://u:p@127.0.0.1:3306"}));
        assert!(c.create_schema);
        assert_eq!(c.traces.mode, TraceMode::Errors);
        assert_eq!(c.logs.min_severity, Severity(17));
        assert_eq!(c.connection().unwrap().1, "otelstack");
        let c = parse(serde_json::json!({"endpoint": "mysql://u:p@h/fromdsn", "logs": {"min_severity": "WARN"}}));
        assert_eq!(c.connection().unwrap().1, "fromdsn");
        assert_eq!(c.logs.min_severity, Severity(13));
        assert!(c.validate().is_ok());
        let c = parse(serde_json::json!({"endpoint": "mysql://u:p@h/x", "database": "a;DROP"}));
        assert_eq!(c.validate().unwrap_err().path, "database");
    }

    #[test]
    fn config_errors_name_the_key() {
        assert_eq!(parse(serde_json::json!({})).validate().unwrap_err().path, "endpoint");
        let e = parse_section::<MysqlConfig>(serde_json::json!({"endpoint": "x", "traces": {"mode": "some"}}));
        assert!(e.unwrap_err().path().to_string().starts_with("traces.mode"));
        let e = parse_section::<MysqlConfig>(serde_json::json!({"endpoint": "x", "logs": {"min_severity": "LOUD"}}));
        assert!(e.unwrap_err().to_string().contains("not a log severity"));
        let c = parse(serde_json::json!({"endpoint": "mysql://u:p@h/x", "tls": {"max_version": "1.2"}}));
        assert_eq!(c.validate().unwrap_err().path, "tls.max_version");
        let c = parse(serde_json::json!({"endpoint": "mysql://u:p@h/x", "tls": {"ca_file": "/nonexistent.pem"}}));
        let e = c.validate().unwrap_err();
        assert!(e.path == "tls" && e.message.contains("/nonexistent.pem"), "{e:?}");
    }

    #[test]
    fn tls_from_the_section_or_the_dsn() {
        let ssl = |v| mysql_async::Opts::from(parse(v).connection().unwrap().0.opts).ssl_opts().cloned();
        assert!(ssl(serde_json::json!({"endpoint": "mysql://u:p@h/x"})).is_none());
        let dsn_asks = ssl(serde_json::json!({"endpoint": "mysql://u:p@h/x?require_ssl=true"})).unwrap();
        assert!(dsn_asks.disable_built_in_roots(), "the system's roots, as for every other client");
        assert!(ssl(serde_json::json!({"endpoint": "mysql://u:p@h/x", "tls": {}})).is_some());
        let off = serde_json::json!({"endpoint": "mysql://u:p@h/x?require_ssl=true", "tls": {"insecure": true}});
        assert!(ssl(off).is_none(), "insecure: true turns it off");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let c = parse(serde_json::json!({"endpoint": "mysql://u:hunter2@h/x"}));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
