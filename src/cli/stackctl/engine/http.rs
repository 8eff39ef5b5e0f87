//! GETs to the stack's published ports on this host (health check, self
//! metrics), and the collector's throughput read from its self metrics. The
//! client is `reqwest`, the one the collector's exporters use: plain HTTP to
//! 127.0.0.1, never through a proxy from the environment.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

const TIMEOUT: Duration = Duration::from_secs(3);

/// A client for 127.0.0.1. Its rustls config (ring, no roots) is only there
/// because reqwest wants one: every URL here is `http://`, and no platform
/// certificate store is needed to build it.
pub fn client() -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_proxy()
        .connect_timeout(TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent(concat!("stackctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// GETs `path` from 127.0.0.1:`port`: (status code, body).
pub async fn get(client: &reqwest::Client, port: u16, path: &str) -> Result<(u16, String), String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let failed = |e: reqwest::Error| {
        let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
        let what = if e.is_timeout() { "no answer within 3s".to_owned() } else { format!("{e}{cause}") };
        format!("{url}: {what}")
    };
    let response = client.get(&url).header("Accept", "text/plain").send().await.map_err(failed)?;
    let code = response.status().as_u16();
    let body = response.text().await.map_err(failed)?;
    Ok((code, body))
}

/// Items through the collector, summed over receivers/exporters, from its
/// otelcol-named self metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Throughput {
    pub receiver_accepted_spans: f64,
    pub receiver_accepted_metric_points: f64,
    pub receiver_accepted_log_records: f64,
    pub exporter_sent_spans: f64,
    pub exporter_sent_metric_points: f64,
    pub exporter_sent_log_records: f64,
}

/// Sums the counters in Prometheus text exposition, with or without the
/// `_total` suffix (otelcol changed it between versions).
pub fn throughput(exposition: &str) -> Throughput {
    let sum = |name: &str| -> f64 {
        exposition
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let metric = series.split('{').next()?.trim();
                (metric == name || metric.strip_suffix("_total") == Some(name))
                    .then(|| value.trim().parse::<f64>().ok())?
            })
            .sum()
    };
    Throughput {
        receiver_accepted_spans: sum("otelcol_receiver_accepted_spans"),
        receiver_accepted_metric_points: sum("otelcol_receiver_accepted_metric_points"),
        receiver_accepted_log_records: sum("otelcol_receiver_accepted_log_records"),
        exporter_sent_spans: sum("otelcol_exporter_sent_spans"),
        exporter_sent_metric_points: sum("otelcol_exporter_sent_metric_points"),
        exporter_sent_log_records: sum("otelcol_exporter_sent_log_records"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_counters_across_labels_and_suffixes() {
        let text = "# HELP otelcol_receiver_accepted_spans_total Spans accepted.\n\
# TYPE otelcol_receiver_accepted_spans_total counter\n\
otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 7\n\
otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"http\"} 3\n\
otelcol_receiver_accepted_metric_points{receiver=\"otlp\",transport=\"grpc\"} 12\n\
otelcol_receiver_refused_spans_total{receiver=\"otlp\",transport=\"grpc\"} 100\n\
otelcol_exporter_sent_spans_total{exporter=\"otlp/tempo\"} 10\n\
otelcol_exporter_sent_spans_total{exporter=\"mysql\"} 2\n\
otelcol_exporter_sent_log_records_total{exporter=\"mysql\"} 1.5e1\n";
        let t = throughput(text);
        assert_eq!(t.receiver_accepted_spans, 10.0);
        assert_eq!(t.receiver_accepted_metric_points, 12.0);
        assert_eq!(t.receiver_accepted_log_records, 0.0);
        assert_eq!(t.exporter_sent_spans, 12.0);
        assert_eq!(t.exporter_sent_log_records, 15.0);
    }

    /// A real HTTP/1.1 server on a free port: it records each request head
    /// and answers from a list, one connection per answer.
    fn serve(answers: Vec<&'static str>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut s, _) = listener.accept().unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 512];
                while !head.ends_with(b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    assert!(n > 0, "connection closed mid-request: {:?}", String::from_utf8_lossy(&head));
                    head.extend_from_slice(&buf[..n]);
                }
                heads.push(String::from_utf8_lossy(&head).into_owned());
                s.write_all(answer.as_bytes()).unwrap();
            }
            heads
        });
        (port, server)
    }

    #[test]
    fn get_against_a_local_server() {
        let (port, server) = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nup 1\n",
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown",
        ]);
        let client = client().unwrap();
        let (ok, unavailable) =
            super::super::block_on(async { (get(&client, port, "/metrics").await, get(&client, port, "/").await) });
        assert_eq!(ok.unwrap(), (200, "up 1\n".to_owned()));
        assert_eq!(unavailable.unwrap(), (503, "down".to_owned()));
        let heads = server.join().unwrap();
        assert!(heads[0].starts_with("GET /metrics HTTP/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].to_ascii_lowercase().contains(&format!("host: 127.0.0.1:{port}\r\n")), "{}", heads[0]);
        assert!(heads[1].starts_with("GET / HTTP/1.1\r\n"), "{}", heads[1]);
    }

    #[test]
    fn unreachable_and_proxy_settings() {
        // nothing listens on a port just closed: an error naming the URL
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = client().unwrap();
        let err = super::super::block_on(get(&client, closed, "/")).unwrap_err();
        assert!(err.starts_with(&format!("http://127.0.0.1:{closed}/: ")), "{err}");
        // a server that accepts but never answers costs the timeout, not a hang
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let err = super::super::block_on(get(&client, port, "/")).unwrap_err();
        assert!(err.ends_with("no answer within 3s"), "{err}");
    }
}
