//! The tables the `mysql` exporter writes and `stackctl failures` reads,
//! created or migrated at start when `create_schema` is on. Migrations are
//! numbered; `otelstack_schema_version` records the ones applied, and a
//! named lock (`GET_LOCK`) keeps two collectors from migrating at once.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

/// Column sizes the exporter truncates to (characters for VARCHAR, bytes
/// for TEXT types), kept next to the DDL that defines them.
pub mod limits {
    pub const SERVICE: usize = 255;
    pub const SPAN_NAME: usize = 1024;
    pub const EXCEPTION_TYPE: usize = 255;
    pub const SEVERITY_TEXT: usize = 32;
    /// TEXT columns
    pub const TEXT_BYTES: usize = 65_535;
    /// MEDIUMTEXT columns could hold 16 MiB; one statement must stay well
    /// under MariaDB's default `max_allowed_packet` (16 MiB), so 1 MiB.
    pub const LONG_BYTES: usize = 1 << 20;
    /// each string value inside the JSON attribute columns
    pub const ATTRIBUTE_VALUE_BYTES: usize = 64 * 1024;
}

/// `(version, statements)`, applied in order; never edit a released one.
const MIGRATIONS: &[(u32, &[&str])] = &[(
    1,
    &[
        "CREATE TABLE IF NOT EXISTS failed_spans (
            id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            trace_id CHAR(32) NOT NULL,
            span_id CHAR(16) NOT NULL,
            parent_span_id CHAR(16) NULL,
            service_name VARCHAR(255) NOT NULL,
            span_name VARCHAR(1024) NOT NULL,
            span_kind VARCHAR(16) NOT NULL,
            start_time DATETIME(6) NOT NULL COMMENT 'UTC',
            end_time DATETIME(6) NOT NULL COMMENT 'UTC',
            duration_ms DOUBLE NOT NULL,
            status_code VARCHAR(8) NOT NULL,
            status_message TEXT NULL,
            exception_type VARCHAR(255) NULL,
            exception_message TEXT NULL,
            exception_stacktrace MEDIUMTEXT NULL,
            resource_attributes JSON NOT NULL,
            span_attributes JSON NOT NULL,
            inserted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT 'UTC',
            UNIQUE KEY uq_failed_spans_trace_span (trace_id, span_id),
            KEY idx_failed_spans_start_time (start_time),
            KEY idx_failed_spans_service_time (service_name, start_time)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS error_logs (
            id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
            record_hash CHAR(64) NOT NULL COMMENT 'sha256 of the record: replays do not duplicate',
            time DATETIME(6) NOT NULL COMMENT 'UTC',
            observed_time DATETIME(6) NULL COMMENT 'UTC',
            service_name VARCHAR(255) NOT NULL,
            scope_name VARCHAR(255) NULL,
            severity_number TINYINT UNSIGNED NOT NULL,
            severity_text VARCHAR(32) NULL,
            body MEDIUMTEXT NULL,
            trace_id CHAR(32) NULL,
            span_id CHAR(16) NULL,
            attributes JSON NOT NULL,
            resource_attributes JSON NOT NULL,
            inserted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT 'UTC',
            UNIQUE KEY uq_error_logs_record (record_hash),
            KEY idx_error_logs_time (time),
            KEY idx_error_logs_service_time (service_name, time),
            KEY idx_error_logs_trace (trace_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    ],
)];

/// The newest schema version this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// A database name safe to splice into DDL (identifiers cannot be bound).
pub fn check_database_name(name: &str) -> Result<(), String> {
    let ok =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a plain database name: use letters, digits, _ or $ (at most 64)"))
    }
}

/// Creates the database if needed, then applies the missing migrations;
/// returns the schema version now in place.
pub async fn migrate(conn: &mut Conn, database: &str) -> Result<u32, mysql_async::Error> {
    conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        .await?;
    conn.query_drop(format!("USE `{database}`")).await?;
    let got: Option<i64> = conn.exec_first("SELECT GET_LOCK(?, 30)", (format!("otelstack_schema_{database}"),)).await?;
    if got != Some(1) {
        return Err(mysql_async::Error::Other("another collector holds the schema migration lock for 30s".into()));
    }
    let result = apply(conn).await;
    let _ = conn.exec_drop("DO RELEASE_LOCK(?)", (format!("otelstack_schema_{database}"),)).await;
    result
}

async fn apply(conn: &mut Conn) -> Result<u32, mysql_async::Error> {
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS otelstack_schema_version (
            version INT UNSIGNED NOT NULL PRIMARY KEY,
            applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
        ) ENGINE=InnoDB",
    )
    .await?;
    let current: Option<u32> =
        conn.query_first("SELECT COALESCE(MAX(version), 0) FROM otelstack_schema_version").await?;
    let current = current.unwrap_or(0);
    for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        for sql in *statements {
            conn.query_drop(*sql).await?;
        }
        conn.exec_drop("INSERT IGNORE INTO otelstack_schema_version (version) VALUES (?)", (version,)).await?;
        tracing::info!(version, "mysql exporter: applied schema migration");
    }
    Ok(current.max(latest()))
}
