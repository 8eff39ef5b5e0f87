//! Host ports: is one free, who holds it, which `.env` key sets it, and which
//! port a compose error is about.

use std::net::TcpListener;
use std::process::Command;

use super::project::{Project, PORTS};

/// Whether a TCP port can be bound on every interface (what publishing needs).
pub fn is_free(port: u16) -> bool {
    TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// The process listening on a port, as `ss -ltnp` reports it ("python3 (pid 42)").
pub fn holder(port: u16) -> Option<String> {
    let out = Command::new("ss").args(["-Hltnp", &format!("sport = :{port}")]).output().ok()?;
    parse_ss_users(&String::from_utf8_lossy(&out.stdout))
}

pub fn parse_ss_users(ss: &str) -> Option<String> {
    let re = regex::Regex::new(r#"\(\("([^"]+)",pid=(\d+)"#).expect("valid regex");
    let c = re.captures(ss)?;
    let name = &c[1];
    let what = if name == "docker-proxy" { " (a port published by another container)" } else { "" };
    Some(format!("{name} (pid {}){what}", &c[2]))
}

/// The port a Docker "port is already allocated" / "address already in use" error names.
pub fn port_in_message(msg: &str) -> Option<u16> {
    let re = regex::Regex::new(r"(?:\d+\.\d+\.\d+\.\d+|\[?::\]?):(\d+)(?: failed|: bind)").expect("valid regex");
    re.captures(msg)?[1].parse().ok()
}

/// The `.env` key that sets a host port of the stack.
pub fn key_for(project: &Project, port: u16) -> Option<&'static str> {
    PORTS.iter().find(|(key, default, _)| project.port(key, *default) == port).map(|(k, _, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_from_docker_errors() {
        let e = "Error response from daemon: driver failed programming external connectivity on endpoint \
                 demo_collector_1: Bind for 0.0.0.0:4317 failed: port is already allocated";
        assert_eq!(port_in_message(e), Some(4317));
        let e = "Error starting userland proxy: listen tcp4 127.0.0.1:9090: bind: address already in use";
        assert_eq!(port_in_message(e), Some(9090));
        assert_eq!(port_in_message("something else"), None);
    }

    #[test]
    fn ss_users() {
        let ss = "LISTEN 0 128 0.0.0.0:4317 0.0.0.0:* users:((\"python3\",pid=4242,fd=3))\n";
        assert_eq!(parse_ss_users(ss).as_deref(), Some("python3 (pid 4242)"));
        let ss = "LISTEN 0 4096 0.0.0.0:4317 0.0.0.0:* users:((\"docker-proxy\",pid=9,fd=4))\n";
        assert!(parse_ss_users(ss).unwrap().contains("another container"));
        assert_eq!(parse_ss_users(""), None);
    }

    #[test]
    fn a_bound_port_is_not_free_and_its_holder_is_named() {
        let l = TcpListener::bind("0.0.0.0:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!is_free(port));
        let h = holder(port).expect("ss (iproute2) names the listener");
        assert!(h.contains(&format!("pid {}", std::process::id())), "{h}");
        drop(l);
        assert!(is_free(port));
    }
}
