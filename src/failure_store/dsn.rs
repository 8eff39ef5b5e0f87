//! Connection strings for MariaDB/MySQL, read by the `mysql` exporter and
//! `stackctl failures`: the URL form (`mysql://user:pass@host:3306/db`, also
//! `mariadb://`) and the Go driver form otelcol users know from other
//! components (`user:pass@tcp(host:3306)/db`, `user:pass@unix(/path.sock)/db`).

use mysql_async::{Opts, OptsBuilder};

/// Where and as whom to connect; `database` is the DSN's path, if any.
#[derive(Debug, Clone)]
pub struct Dsn {
    pub opts: OptsBuilder,
    pub database: Option<String>,
    /// `host:port` or the socket path, for error messages
    pub address: String,
}

/// Parses a DSN. Errors never quote the password.
pub fn parse(dsn: &str) -> Result<Dsn, String> {
    let dsn = dsn.trim();
    if dsn.is_empty() {
        return Err("is empty: use mysql://user:password@host:3306/database".into());
    }
    if let Some(rest) = dsn.strip_prefix("mysql://").or_else(|| dsn.strip_prefix("mariadb://")) {
        let opts = Opts::from_url(&format!("mysql://{rest}")).map_err(|e| {
            format!("is not a valid mysql:// URL ({e}); percent-encode special characters in the password")
        })?;
        let database = opts.db_name().map(str::to_owned);
        let address = match opts.socket() {
            Some(s) => s.to_owned(),
            None => format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port()),
        };
        return Ok(Dsn { opts: OptsBuilder::from_opts(opts).db_name(None::<String>), database, address });
    }
    parse_go(dsn)
}

/// `[user[:password]@][tcp(host[:port])|unix(path)]/[database][?params]`
fn parse_go(dsn: &str) -> Result<Dsn, String> {
    let bad = || "is neither mysql://user:password@host:3306/db nor user:password@tcp(host:3306)/db".to_string();
    let (creds, rest) = match dsn.rfind(")/").and_then(|end| dsn[..end].rfind('@')).or_else(|| dsn.rfind('@')) {
        Some(at) => (Some(&dsn[..at]), &dsn[at + 1..]),
        None => (None, dsn),
    };
    // the address is `proto(...)` (a socket path contains '/') or bare
    let split = match rest.find('(') {
        Some(_) => rest.find(")/").map(|i| i + 1),
        None => rest.find('/'),
    };
    let (addr, tail) = split.map(|i| (&rest[..i], &rest[i + 1..])).ok_or_else(bad)?;
    let database = tail.split('?').next().filter(|d| !d.is_empty()).map(str::to_owned);
    let mut opts = OptsBuilder::default();
    if let Some(creds) = creds {
        let (user, pass) = match creds.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (creds, None),
        };
        opts = opts.user(Some(user)).pass(pass);
    }
    let address;
    if let Some(path) = addr.strip_prefix("unix(").and_then(|a| a.strip_suffix(')')) {
        address = path.to_owned();
        opts = opts.socket(Some(path));
    } else {
        let hp = addr.strip_prefix("tcp(").and_then(|a| a.strip_suffix(')')).unwrap_or(addr);
        let hp = if hp.is_empty() { "127.0.0.1:3306" } else { hp };
        let (host, port) = match hp.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("has an invalid port {p:?}"))?),
            None => (hp, 3306),
        };
        address = format!("{host}:{port}");
        opts = opts.ip_or_hostname(host).tcp_port(port).prefer_socket(false);
    }
    Ok(Dsn { opts, database, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_go_forms() {
        let d = parse("mysql://otel:p%40ss@db.local:3307/otelstack").unwrap();
        assert_eq!(d.database.as_deref(), Some("otelstack"));
        assert_eq!(d.address, "db.local:3307");
        let o = Opts::from(d.opts);
        assert_eq!(o.pass(), Some("p@ss"));
        assert_eq!(o.db_name(), None, "the database is chosen by the caller");

        let d = parse("otel:p@ss:w0rd@tcp(127.0.0.1:3306)/metrics?parseTime=true").unwrap();
        assert_eq!(d.database.as_deref(), Some("metrics"));
        let o = Opts::from(d.opts);
        assert_eq!((o.user(), o.pass(), o.tcp_port()), (Some("otel"), Some("p@ss:w0rd"), 3306));

        let d = parse("root@unix(/tmp/m.sock)/").unwrap();
        assert_eq!((d.address.as_str(), d.database), ("/tmp/m.sock", None));
        assert!(parse("").is_err());
        assert!(parse("just words").is_err());
    }
}
