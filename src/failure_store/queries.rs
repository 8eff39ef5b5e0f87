//! The read side of the failure store: recent failures and per-group counts
//! over both tables (`failed_spans`, `error_logs`), returned as structs so
//! `stackctl failures` and `stackctl status` print the same figures. The
//! columns read here are the ones [`super::schema`] creates.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use serde::Serialize;

/// One failed span or error log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    /// UTC, RFC 3339 with microseconds
    pub time: String,
    /// `span` or `log`
    pub kind: String,
    pub service: String,
    pub operation: String,
    pub error: String,
    pub message: String,
    pub trace_id: String,
}

/// Failures counted per service, operation and error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    pub service: String,
    pub operation: String,
    pub error: String,
    pub count: u64,
    pub last_seen: String,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub service: Option<String>,
    pub since: Duration,
    pub limit: u32,
}

const TIME: &str = "'%Y-%m-%dT%H:%i:%s.%fZ'";

/// Both tables as one row set `(t, kind, service, operation, error,
/// message, trace_id)`, filtered; the operation and error of a log are the
/// ones the alert exporter groups by.
fn union_sql() -> String {
    "SELECT start_time AS t, 'span' AS kind, service_name AS service, span_name AS operation,
            COALESCE(exception_type, NULLIF(status_message, ''), 'error') AS error,
            COALESCE(exception_message, status_message, '') AS message, trace_id
     FROM failed_spans
     WHERE start_time >= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND AND (? IS NULL OR service_name = ?)
       AND (status_code = 'ERROR' OR exception_type IS NOT NULL OR exception_message IS NOT NULL)
     UNION ALL
     SELECT time, 'log', service_name,
            COALESCE(JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.\"code.function.name\"')),
                     JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.\"code.function\"')), scope_name, 'log'),
            COALESCE(JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.\"exception.type\"')), severity_text, 'ERROR'),
            COALESCE(body, ''), COALESCE(trace_id, '')
     FROM error_logs
     WHERE time >= UTC_TIMESTAMP(6) - INTERVAL ? MICROSECOND AND (? IS NULL OR service_name = ?)"
        .to_owned()
}

fn union_params(f: &Filter) -> Vec<Value> {
    let since = Value::UInt(f.since.as_micros() as u64);
    let service = f.service.as_ref().map_or(Value::NULL, |s| Value::from(s.as_str()));
    vec![since.clone(), service.clone(), service.clone(), since, service.clone(), service]
}

/// The newest failures first.
pub async fn recent_failures(conn: &mut Conn, f: &Filter) -> Result<Vec<FailureRow>, mysql_async::Error> {
    let sql = format!(
        "SELECT DATE_FORMAT(t, {TIME}), kind, service, operation, error, message, trace_id
         FROM ({}) f ORDER BY t DESC LIMIT ?",
        union_sql()
    );
    let mut params = union_params(f);
    params.push(Value::UInt(u64::from(f.limit)));
    let rows: Vec<(String, String, String, String, String, String, String)> = conn.exec(sql, params).await?;
    Ok(rows
        .into_iter()
        .map(|(time, kind, service, operation, error, message, trace_id)| FailureRow {
            time,
            kind,
            service,
            operation,
            error,
            message,
            trace_id,
        })
        .collect())
}

/// Counts per (service, operation, error), the most frequent first.
pub async fn failure_summary(conn: &mut Conn, f: &Filter) -> Result<Vec<SummaryRow>, mysql_async::Error> {
    let sql = format!(
        "SELECT service, operation, error, COUNT(*) AS n, DATE_FORMAT(MAX(t), {TIME})
         FROM ({}) f GROUP BY service, operation, error ORDER BY n DESC, MAX(t) DESC LIMIT ?",
        union_sql()
    );
    let mut params = union_params(f);
    params.push(Value::UInt(u64::from(f.limit)));
    let rows: Vec<(String, String, String, u64, String)> = conn.exec(sql, params).await?;
    Ok(rows
        .into_iter()
        .map(|(service, operation, error, count, last_seen)| SummaryRow { service, operation, error, count, last_seen })
        .collect())
}
