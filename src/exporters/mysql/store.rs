//! The `mysql` exporter's [`Export`]: a connection pool, the schema set-up
//! (once, retried with the batch when the server is not there yet), the
//! multi-row inserts and the retention task.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Pool, PoolConstraints, PoolOpts, Value};

use super::rows::{self, LOG_COLUMNS, SPAN_COLUMNS};
use crate::exporters::failure::{self, Severity};
use crate::exporters::helper::{Export, ExportError};
use crate::failure_store::dsn::Dsn;
use crate::failure_store::schema;
use crate::otlp::data::Decoded;
use crate::otlp::PartialSuccess;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};

/// Keeps one INSERT well under MariaDB's default 16 MiB `max_allowed_packet`.
const STATEMENT_BYTES: usize = 4 << 20;

pub struct StoreSettings {
    pub name: String,
    pub signal: Signal,
    pub dsn: Dsn,
    /// whether `dsn` encrypts the connection
    pub tls: bool,
    pub database: String,
    pub create_schema: bool,
    pub all_spans: bool,
    pub min_severity: Severity,
    pub batch_size: usize,
    pub pool_max: usize,
}

#[derive(Clone)]
pub struct Store(Arc<Inner>);

struct Inner {
    s: StoreSettings,
    pool: Pool,
    schema_ready: tokio::sync::OnceCell<()>,
}

impl Store {
    /// Builds the pool (connecting lazily) and tries the schema set-up in
    /// the background, so the tables exist before the first failure.
    pub fn new(s: StoreSettings) -> Store {
        let pool_opts = PoolOpts::new()
            .with_constraints(PoolConstraints::new(0, s.pool_max).expect("0 <= max"))
            .with_inactive_connection_ttl(Duration::from_secs(60))
            .with_ttl_check_interval(Duration::from_secs(30));
        let opts = s
            .dsn
            .opts
            .clone()
            .db_name(Some(s.database.clone()))
            .init(vec!["SET time_zone = '+00:00'"])
            .pool_opts(pool_opts);
        let store = Store(Arc::new(Inner { pool: Pool::new(opts), schema_ready: Default::default(), s }));
        let early = store.clone();
        tokio::spawn(async move {
            if let Err(e) = early.ensure_schema().await {
                tracing::warn!(exporter = %early.0.s.name, error = %e, "mysql exporter: schema not set up yet; will retry with the first batch");
            }
        });
        store
    }

    async fn ensure_schema(&self) -> Result<(), ExportError> {
        let s = &self.0.s;
        if !s.create_schema {
            return Ok(());
        }
        self.0
            .schema_ready
            .get_or_try_init(|| async {
                let opts = s.dsn.opts.clone().init(vec!["SET time_zone = '+00:00'"]);
                let mut conn = Conn::new(opts).await.map_err(|e| self.error(&e))?;
                let version = schema::migrate(&mut conn, &s.database).await.map_err(|e| self.error(&e))?;
                let _ = conn.disconnect().await;
                tracing::info!(exporter = %s.name, database = %s.database, version, "mysql exporter: schema ready");
                Ok(())
            })
            .await
            .map(|_| ())
    }

    fn error(&self, e: &mysql_async::Error) -> ExportError {
        let s = &self.0.s;
        // refused logins and insecure-transport refusals look alike; say
        // what to check when the connection was in clear
        let hint = match e {
            mysql_async::Error::Server(se) if matches!(se.code, 1045 | 3159) && !s.tls => {
                " (the connection is not encrypted: if the server or this user requires TLS, set the exporter's `tls` section, e.g. tls.ca_file)"
            }
            _ => "",
        };
        ExportError::retryable(format!("MariaDB at {} (database {}): {e}{hint}", s.dsn.address, s.database))
    }

    /// A pooled connection that answers a ping: connections the pool kept
    /// across a server restart fail it and are replaced.
    async fn conn(&self) -> Result<Conn, ExportError> {
        let mut last = None;
        for _ in 0..=self.0.s.pool_max {
            match self.0.pool.get_conn().await {
                Ok(mut c) => match c.ping().await {
                    Ok(()) => return Ok(c),
                    Err(e) => last = Some(e),
                },
                Err(e) => return Err(self.error(&e)),
            }
        }
        Err(self.error(&last.expect("at least one attempt")))
    }

    /// Inserts the rows in statements of at most `batch_size` rows; returns
    /// how many rows the server refused and why (the rest are stored).
    async fn insert(
        &self,
        table: &str,
        columns: &[&str],
        rows: Vec<Vec<Value>>,
    ) -> Result<(usize, String), ExportError> {
        let mut conn = self.conn().await?;
        let (mut rejected, mut message) = (0, String::new());
        let mut chunk: Vec<Vec<Value>> = Vec::new();
        let mut bytes = 0;
        let mut rows = rows.into_iter().peekable();
        while let Some(row) = rows.next() {
            bytes += rows::row_bytes(&row);
            chunk.push(row);
            let next_too_big = rows.peek().is_some_and(|r| bytes + rows::row_bytes(r) > STATEMENT_BYTES);
            if chunk.len() < self.0.s.batch_size && !next_too_big && rows.peek().is_some() {
                continue;
            }
            let (r, m) = self.insert_chunk(&mut conn, table, columns, std::mem::take(&mut chunk)).await?;
            rejected += r;
            if message.is_empty() {
                message = m;
            }
            bytes = 0;
        }
        Ok((rejected, message))
    }

    async fn insert_chunk(
        &self,
        conn: &mut Conn,
        table: &str,
        columns: &[&str],
        chunk: Vec<Vec<Value>>,
    ) -> Result<(usize, String), ExportError> {
        let sql = rows::insert_sql(table, columns, chunk.len());
        let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
        match conn.exec_drop(sql, Params::Positional(params)).await {
            Ok(()) => return Ok((0, String::new())),
            Err(e) if !is_data_error(&e) => return Err(self.error(&e)),
            Err(e) if chunk.len() == 1 => return Ok((1, format!("{table}: {e}"))),
            Err(_) => {}
        }
        // One row's data was refused: store the others, one by one.
        let sql = rows::insert_sql(table, columns, 1);
        let (mut rejected, mut message) = (0, String::new());
        for row in chunk {
            match conn.exec_drop(&sql, Params::Positional(row)).await {
                Ok(()) => {}
                Err(e) if is_data_error(&e) => {
                    rejected += 1;
                    message = format!("{table}: {e}");
                }
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok((rejected, message))
    }

    /// Deletes rows older than `retention` now and then, in a task of
    /// `group` (none when `retention` is 0).
    pub fn start_retention(&self, retention: Duration, group: &TaskGroup) {
        if retention.is_zero() {
            return;
        }
        let (table, column) = match self.0.s.signal {
            Signal::Logs => ("error_logs", "time"),
            _ => ("failed_spans", "start_time"),
        };
        let every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        let store = self.clone();
        group.spawn_detached(async move {
            let sql =
                format!("DELETE FROM {table} WHERE {column} < UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND LIMIT 10000");
            // first a second after start (old rows go soon after a restart), then every `every`
            let mut wait = Duration::from_secs(1);
            loop {
                tokio::time::sleep(wait).await;
                wait = every;
                let result = async {
                    store.ensure_schema().await?;
                    let mut conn = store.conn().await?;
                    loop {
                        conn.exec_drop(&sql, (retention.as_micros() as u64,)).await.map_err(|e| store.error(&e))?;
                        if conn.affected_rows() < 10_000 {
                            return Ok::<_, ExportError>(());
                        }
                    }
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(exporter = %store.0.s.name, error = %e, "mysql exporter: retention delete failed; will try again");
                }
            }
        });
    }
}

/// Server errors about a row's data (too long, bad value, JSON check),
/// which retrying cannot fix; anything else may pass on a later attempt.
fn is_data_error(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if matches!(s.code, 1048 | 1264 | 1292 | 1366 | 1367 | 1406 | 3140 | 4025))
}

impl Export for Store {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            let s = &self.0.s;
            // most batches hold no failure: find that out without decoding
            if !failure::scan::may_hold_failures(&batch, s.all_spans, s.min_severity) {
                return Ok(PartialSuccess::default());
            }
            let decoded = batch.decoded().map_err(|e| ExportError::Permanent(e.to_string()))?;
            let (table, columns, rows): (_, _, Vec<Vec<Value>>) = match &decoded {
                Decoded::Traces(rs) => (
                    "failed_spans",
                    SPAN_COLUMNS,
                    failure::failed_spans(rs, s.all_spans).iter().map(rows::span_row).collect(),
                ),
                Decoded::Logs(rl) => (
                    "error_logs",
                    LOG_COLUMNS,
                    failure::error_logs(rl, s.min_severity).iter().map(rows::log_row).collect(),
                ),
                Decoded::Metrics(_) => {
                    return Err(ExportError::Permanent("the mysql exporter takes traces and logs".into()))
                }
            };
            if rows.is_empty() {
                return Ok(PartialSuccess::default());
            }
            self.ensure_schema().await?;
            let (rejected, error_message) = self.insert(table, columns, rows).await?;
            Ok(PartialSuccess { rejected: rejected as i64, error_message })
        })
    }
}
