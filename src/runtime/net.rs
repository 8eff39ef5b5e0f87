//! Listening: binding a TCP listener with an error that says how to fix it,
//! and the HTTP server task (receivers, the health endpoint, the self
//! metrics and prometheus exporter's `/metrics`) stopped with its group.

use super::lifecycle::TaskGroup;

/// Binds a TCP listener with a sentence that says how to fix a failure.
pub async fn bind(endpoint: &str, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addrs = crate::config::types::listen_addrs(endpoint).map_err(anyhow::Error::msg)?;
    let addr = addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0]);
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "another process is using the port; stop it or change the endpoint"
        } else {
            "check the endpoint"
        };
        anyhow::anyhow!("cannot listen on {endpoint} for {what}: {e}; {hint}")
    })
}

/// Serves `router` on `listener` until `group` stops; in-flight requests
/// finish first.
pub fn serve_http(group: &TaskGroup, listener: tokio::net::TcpListener, router: axum::Router) {
    let token = group.shutdown_signal().token();
    group.spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(token.cancelled_owned()).await;
    });
}
