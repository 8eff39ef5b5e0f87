//! A plain HTTP/1.0 GET to the stack's published ports on this host (health
//! check, self metrics), and the collector's throughput read from its self
//! metrics. Local, unencrypted, one request at a time: std's TcpStream is enough.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde::Serialize;

/// GETs `path` from 127.0.0.1:`port`: (status code, body).
pub fn get(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let timeout = Duration::from_secs(3);
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    // one write: `write!` on an unbuffered stream sends each piece separately
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: text/plain\r\n\r\n");
    s.write_all(request.as_bytes()).map_err(|e| format!("{addr}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("{addr}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("{addr}: not an HTTP answer"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("{addr}: not an HTTP answer"))?;
    Ok((code, body.to_owned()))
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

    #[test]
    fn get_against_a_local_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // read the whole request head, however the client's writes were split
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "connection closed mid-request: {:?}", String::from_utf8_lossy(&head));
                head.extend_from_slice(&buf[..n]);
            }
            assert!(String::from_utf8_lossy(&head).starts_with("GET /metrics HTTP/1.0\r\n"));
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nup 1\n").unwrap();
        });
        assert_eq!(get(port, "/metrics").unwrap(), (200, "up 1\n".to_owned()));
        server.join().unwrap();
        // nothing listens on a port just closed
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(get(closed, "/").is_err());
    }
}
