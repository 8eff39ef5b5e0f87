//! `stackctl failures`: recent failed operations from the MariaDB tables the
//! collector's `mysql` exporter fills (`failed_spans`, `error_logs`), as a
//! table, as JSON, or as grouped counts (`--summary`). The queries live in
//! the failure store next to the tables they read
//! (`failure_store::queries`).
//!
//! Connection: `--dsn`, else `OTELSTACK_MYSQL_DSN`, else the project's
//! `.env` (written by `stackctl init`: `MARIADB_PORT`, `MARIADB_DATABASE`,
//! `MARIADB_USER`, `MARIADB_PASSWORD`) on 127.0.0.1. Exit codes: 0 success
//! (also when there is no failure), 1 the database could not be read
//! (unreachable, refused credentials, no tables yet), 2 invalid arguments
//! or settings.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use mysql_async::{Conn, Opts};
use serde::Serialize;

use crate::collector_api::failure_store::queries::{failure_summary, recent_failures, FailureRow, Filter, SummaryRow};
use crate::collector_api::failure_store::{dsn, schema, DEFAULT_DATABASE};
use crate::stack::dotenv;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this service (its `service.name`).
    #[arg(long)]
    pub service: Option<String>,
    /// How far back to look, like 30m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = parse_since)]
    pub since: Duration,
    /// At most this many rows.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Counts per service, operation and error instead of single failures.
    #[arg(long)]
    pub summary: bool,
    /// MariaDB DSN (mysql://user:pass@host:3306/db); default from the project's .env.
    #[arg(long, env = "OTELSTACK_MYSQL_DSN", hide_env_values = true)]
    pub dsn: Option<String>,
    /// The stack's project directory (where `stackctl init` wrote .env).
    #[arg(long, default_value = ".")]
    pub project_dir: PathBuf,
}

fn parse_since(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not a duration ({e}); use e.g. 30m, 1h or 2d"))
}

/// Where to connect, after the precedence flag > env > .env > defaults.
#[derive(Debug)]
pub struct Connection {
    pub opts: Opts,
    pub address: String,
    pub database: String,
    /// where the settings came from, for error messages
    pub source: String,
}

pub fn connection(dsn_flag: Option<&str>, project_dir: &Path) -> Result<Connection, String> {
    if let Some(text) = dsn_flag {
        let d = dsn::parse(text).map_err(|e| format!("the DSN (--dsn or OTELSTACK_MYSQL_DSN) {e}"))?;
        let database = d.database.clone().unwrap_or_else(|| DEFAULT_DATABASE.to_owned());
        return finish(d, database, "--dsn or OTELSTACK_MYSQL_DSN".into());
    }
    let env_path = project_dir.join(".env");
    let vars = dotenv::read(&env_path).map_err(|e| format!("{e}, or pass --dsn"))?.unwrap_or_default();
    let get = |k: &str, default: &str| vars.get(k).cloned().unwrap_or_else(|| default.to_owned());
    let port: u16 = get("MARIADB_PORT", "3306")
        .parse()
        .map_err(|_| format!("MARIADB_PORT in {} is not a port number; fix it or pass --dsn", env_path.display()))?;
    let database = get("MARIADB_DATABASE", DEFAULT_DATABASE);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some(get("MARIADB_USER", "otelstack")))
        .pass(vars.get("MARIADB_PASSWORD").cloned());
    let source =
        if vars.is_empty() { "the defaults (no .env found)".to_owned() } else { env_path.display().to_string() };
    finish(dsn::Dsn { opts, database: None, address: format!("127.0.0.1:{port}") }, database, source)
}

fn finish(d: dsn::Dsn, database: String, source: String) -> Result<Connection, String> {
    schema::check_database_name(&database).map_err(|e| format!("the database name {e}"))?;
    let opts = d.opts.db_name(Some(database.clone())).init(vec!["SET time_zone = '+00:00'"]).into();
    Ok(Connection { opts, address: d.address, database, source })
}

/// A database error as a sentence that says what to do.
fn explain(c: &Connection, e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) if s.code == 1045 => format!(
            "MariaDB at {} refused the credentials from {} ({}); check MARIADB_USER and MARIADB_PASSWORD or --dsn",
            c.address, c.source, s.message
        ),
        mysql_async::Error::Server(s) if s.code == 1049 || s.code == 1146 => format!(
            "database {} at {} has no failure tables yet ({}); the collector's mysql exporter creates them when it starts: is the collector running with a mysql exporter in a pipeline?",
            c.database, c.address, s.message
        ),
        mysql_async::Error::Server(s) => format!("MariaDB at {} answered error {}: {}", c.address, s.code, s.message),
        other => format!(
            "cannot connect to MariaDB at {}: {}; is the stack running (`stackctl up`) or is --dsn right?",
            c.address,
            short_cause(other)
        ),
    }
}

fn short_cause(e: &mysql_async::Error) -> String {
    let text = e.to_string();
    if text.contains("Connection refused") {
        "connection refused".to_owned()
    } else {
        text
    }
}

pub fn run(args: Args) -> ExitCode {
    let conn = match connection(args.dsn.as_deref(), &args.project_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stackctl failures: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = Filter { service: args.service.clone(), since: args.since, limit: args.limit };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stackctl failures: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        let connect = tokio::time::timeout(Duration::from_secs(10), Conn::new(conn.opts.clone()));
        let mut db = match connect.await {
            Ok(r) => r.map_err(|e| explain(&conn, &e))?,
            Err(_) => {
                return Err(format!(
                    "cannot connect to MariaDB at {}: no answer within 10s; is the stack running (`stackctl up`) or is --dsn right?",
                    conn.address
                ))
            }
        };
        let out = if args.summary {
            let rows = failure_summary(&mut db, &filter).await.map_err(|e| explain(&conn, &e))?;
            if args.json { to_json(&rows) } else { render_summary(&rows, &filter) }
        } else {
            let rows = recent_failures(&mut db, &filter).await.map_err(|e| explain(&conn, &e))?;
            if args.json { to_json(&rows) } else { render_table(&rows, &filter) }
        };
        let _ = db.disconnect().await;
        Ok(out)
    });
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stackctl failures: {e}");
            ExitCode::from(1)
        }
    }
}

fn to_json<T: Serialize>(rows: &T) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}

fn none_found(f: &Filter) -> String {
    let service = f.service.as_ref().map(|s| format!(" for service {s}")).unwrap_or_default();
    format!("No failures{service} in the last {}.", humantime::format_duration(f.since))
}

/// Cuts a cell to `max` characters (with an ellipsis) and flattens newlines.
fn cell(s: &str, max: usize) -> String {
    let flat: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= max {
        flat
    } else {
        format!("{}…", flat.chars().take(max - 1).collect::<String>())
    }
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.into_iter().map(line));
    out.join("\n")
}

pub fn render_table(rows: &[FailureRow], f: &Filter) -> String {
    if rows.is_empty() {
        return none_found(f);
    }
    let body = rows
        .iter()
        .map(|r| {
            let error = if r.message.is_empty() || r.message == r.error {
                r.error.clone()
            } else {
                format!("{}: {}", r.error, r.message)
            };
            vec![
                r.time.get(..19).unwrap_or(&r.time).replace('T', " "),
                cell(&r.service, 24),
                cell(&r.operation, 32),
                cell(&error, 60),
                r.trace_id.clone(),
            ]
        })
        .collect();
    table(&["TIME (UTC)", "SERVICE", "OPERATION", "ERROR", "TRACE ID"], body)
}

pub fn render_summary(rows: &[SummaryRow], f: &Filter) -> String {
    if rows.is_empty() {
        return none_found(f);
    }
    let body = rows
        .iter()
        .map(|r| {
            vec![
                r.count.to_string(),
                cell(&r.service, 24),
                cell(&r.operation, 32),
                cell(&r.error, 40),
                r.last_seen.get(..19).unwrap_or(&r.last_seen).replace('T', " "),
            ]
        })
        .collect();
    table(&["COUNT", "SERVICE", "OPERATION", "ERROR", "LAST SEEN (UTC)"], body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_flag_then_dotenv_then_defaults() {
        let dir = std::env::temp_dir().join(format!("stackctl-failures-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = connection(None, &dir).unwrap();
        assert_eq!((c.address.as_str(), c.database.as_str()), ("127.0.0.1:3306", "otelstack"));
        assert_eq!(c.opts.user(), Some("otelstack"));
        std::fs::write(dir.join(".env"), "# stack\nMARIADB_PORT=13306\nexport MARIADB_USER=ops\nMARIADB_PASSWORD=\"s3 cret\"\nMARIADB_DATABASE=obs\n").unwrap();
        let c = connection(None, &dir).unwrap();
        assert_eq!((c.address.as_str(), c.database.as_str()), ("127.0.0.1:13306", "obs"));
        assert_eq!((c.opts.user(), c.opts.pass()), (Some("ops"), Some("s3 cret")));
        let c = connection(Some("mysql://a:b@db:3307/x"), &dir).unwrap();
        assert_eq!((c.address.as_str(), c.database.as_str()), ("db:3307", "x"));
        std::fs::write(dir.join(".env"), "MARIADB_PORT=http\n").unwrap();
        assert!(connection(None, &dir).unwrap_err().contains("MARIADB_PORT"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn table_layout() {
        let rows = vec![FailureRow {
            time: "2026-12-02T08:41:03.123456Z".into(),
            kind: "span".into(),
            service: "checkout".into(),
            operation: "POST /pay".into(),
            error: "ValueError".into(),
            message: "card\ndeclined".into(),
            trace_id: "ab".repeat(16),
        }];
        let f = Filter { service: None, since: Duration::from_secs(3600), limit: 20 };
        let t = render_table(&rows, &f);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("TIME (UTC)           SERVICE   OPERATION  ERROR"), "{t}");
        assert!(lines[1].starts_with("2026-12-02 08:41:03  checkout  POST /pay  ValueError: card declined"), "{t}");
        assert_eq!(render_table(&[], &f), "No failures in the last 1h.");
    }
}
