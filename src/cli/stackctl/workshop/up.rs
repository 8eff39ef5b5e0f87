//! `stackctl workshop up`: prepares the workshop's schema and least-privilege
//! user on the stack's MariaDB (examples/workshop/mariadb/workshop.sql, as
//! root from the stack's .env), builds the demo images, starts the apps on
//! the stack's network and waits until they are healthy, then prints what to
//! open.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::super::engine::docker::{self, ServiceState};
use super::super::engine::{block_on, finish, Compose, Failure, Project};
use super::control;
use super::project::{self, WorkshopArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub workshop: WorkshopArgs,
    /// How long to wait for the apps to become healthy (the first build takes longest).
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Do not build images; use those present (the tests build them beforehand).
    #[arg(long)]
    pub no_build: bool,
}

pub fn run(args: Args) -> std::process::ExitCode {
    finish(up(&args))
}

fn up(args: &Args) -> Result<(), Failure> {
    let workshop = project::open(&args.workshop.workshop_dir)?;
    let stack = Project::open(&args.workshop.project_dir)?;
    let compose = Compose::detect()?;
    let started = Instant::now();
    block_on(prepare_database(&stack, &workshop))?;
    println!("MariaDB: schema `workshop` and user `workshop` ready");
    let path = control::file(&workshop.dir);
    if !path.exists() {
        control::write(&path, "baseline", None)
            .map_err(|e| Failure::failed(format!("cannot write {}: {e}; check permissions", path.display())))?;
    }
    let network = workshop.setting("STACK_NETWORK").unwrap_or_else(|| format!("{}_default", stack.name));
    let mut up = vec!["up", "-d", "--remove-orphans"];
    if !args.no_build {
        up.push("--build");
    }
    let mut command = compose.command(&workshop, &up);
    command.env("STACK_NETWORK", &network);
    // the apps send to the stack's OTLP ports unless the workshop's .env says otherwise
    for (key, default) in [("OTLP_GRPC_PORT", 4317), ("OTLP_HTTP_PORT", 4318)] {
        if workshop.setting(key).is_none() {
            command.env(key, stack.port(key, default).to_string());
        }
    }
    let out = command.output().map_err(|e| Failure::engine(format!("cannot run {}: {e}", compose.name())))?;
    if !out.status.success() {
        return Err(Failure::failed(format!(
            "{} could not start the workshop apps: {}; is the stack running (`stackctl up`) and is its network \
             {network}?",
            compose.name(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let wanted: Vec<String> = compose.config(&workshop)?.services.into_iter().map(|s| s.name).collect();
    block_on(wait_healthy(&workshop, &wanted, args.timeout))?;
    println!("workshop up in {}s", started.elapsed().as_secs());
    println!("  web front      {}", project::web_url(&workshop));
    println!("  Grafana        http://127.0.0.1:{}", stack.port("GRAFANA_PORT", 3000));
    println!("  Prometheus     http://127.0.0.1:{}", stack.port("PROMETHEUS_PORT", 9090));
    println!("next: `stackctl workshop load`, then follow docs/workshop/ (each step: `stackctl workshop verify STEP`)");
    Ok(())
}

/// Runs workshop.sql as root, then sets the app user's password from the workshop's .env.
async fn prepare_database(stack: &Project, workshop: &Project) -> Result<(), Failure> {
    let sql_path = workshop.dir.join("mariadb").join("workshop.sql");
    let sql = std::fs::read_to_string(&sql_path)
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", sql_path.display())))?;
    let password = workshop.setting("WORKSHOP_DB_PASSWORD").ok_or_else(|| {
        Failure::usage(format!("WORKSHOP_DB_PASSWORD is not set; add it to {}/.env", workshop.dir.display()))
    })?;
    let port = stack.port("MARIADB_PORT", 3306);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .prefer_socket(false)
        .user(Some("root"))
        .pass(stack.setting("MARIADB_ROOT_PASSWORD"));
    let mut conn = mysql_async::Conn::new(opts).await.map_err(|e| {
        Failure::failed(format!(
            "cannot reach MariaDB as root on 127.0.0.1:{port}: {e}; start the stack first (`stackctl up`) and check \
             MARIADB_ROOT_PASSWORD in {}/.env",
            stack.dir.display()
        ))
    })?;
    for statement in statements(&sql) {
        conn.query_drop(&statement)
            .await
            .map_err(|e| Failure::failed(format!("{} failed at `{statement}`: {e}", sql_path.display())))?;
    }
    // ALTER USER takes no placeholder (MariaDB refuses `?` there): a quoted literal
    conn.query_drop(format!("ALTER USER 'workshop'@'%' IDENTIFIED BY {}", sql_string(&password)))
        .await
        .map_err(|e| Failure::failed(format!("cannot set the workshop user's password: {e}")))?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// A SQL string literal: quotes and backslashes escaped, as MariaDB reads them.
fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// The statements of a SQL script: `--` comment lines dropped, split on `;`.
pub fn statements(sql: &str) -> Vec<String> {
    let text: String = sql.lines().filter(|l| !l.trim_start().starts_with("--")).map(|l| format!("{l}\n")).collect();
    text.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

async fn wait_healthy(workshop: &Project, wanted: &[String], timeout: Duration) -> Result<(), Failure> {
    let d = docker::connect().await?;
    let start = Instant::now();
    loop {
        let states = docker::services(&d, &workshop.name).await?;
        if let Some(failed) = states.iter().find(|s| s.has_failed()) {
            return Err(stuck(&d, failed, "failed").await);
        }
        if wanted.iter().all(|w| states.iter().any(|s| &s.service == w && s.is_ready())) {
            return Ok(());
        }
        if start.elapsed() > timeout {
            return Err(match states.iter().find(|s| !s.is_ready()) {
                Some(s) => stuck(&d, s, "did not become healthy in time").await,
                None => Failure::failed("the workshop's containers were not created in time; see `docker ps -a`"),
            });
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn stuck(d: &bollard::Docker, s: &ServiceState, what: &str) -> Failure {
    let logs = docker::log_tail(d, &s.container, 30).await;
    eprintln!("--- last log lines of {} ---\n{logs}---", s.service);
    Failure::failed(format!(
        "workshop app {} {what} (state {}, health {}); its log is above; fix the cause and run `stackctl workshop up` \
         again",
        s.service, s.state, s.health
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_workshop_sql_splits_into_its_statements() {
        let sql =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/workshop/mariadb/workshop.sql"))
                .unwrap();
        let s = super::statements(&sql);
        assert!(s[0].starts_with("CREATE DATABASE IF NOT EXISTS workshop"), "{s:?}");
        assert!(s.iter().all(|x| !x.contains("--")), "{s:?}");
        assert_eq!(s.iter().filter(|x| x.starts_with("GRANT")).count(), 3);
        assert!(s.iter().any(|x| x.starts_with("INSERT IGNORE INTO workshop.products")));
    }

    #[test]
    fn passwords_become_quoted_sql_literals() {
        assert_eq!(super::sql_string("workshop-dev"), "'workshop-dev'");
        assert_eq!(super::sql_string(r"it's\x"), r"'it''s\\x'");
    }
}
