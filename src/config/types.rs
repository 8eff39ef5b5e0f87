//! Value types that otelcol configs use everywhere: Go-style durations and
//! `host:port` endpoints.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A duration written the Go way (`200ms`, `1m30s`, `5s`); a bare integer is
/// nanoseconds, as Go's `time.Duration` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub const fn secs(s: u64) -> GoDuration {
        GoDuration(Duration::from_secs(s))
    }
    pub const fn millis(ms: u64) -> GoDuration {
        GoDuration(Duration::from_millis(ms))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Parses a Go duration string.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() || s.starts_with('-') {
        return Err(format!("invalid duration {s:?}: use a positive value like \"200ms\" or \"5s\""));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(format!("invalid duration {s:?}: expected a number before {rest:?}"));
        }
        let value: f64 = rest[..num_end].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("invalid duration {s:?}: missing unit (ns, us, ms, s, m, h)")),
            u => return Err(format!("invalid duration {s:?}: unknown unit {u:?} (use ns, us, ms, s, m or h)")),
        };
        total += value * nanos_per;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"200ms\", \"5s\" or \"1m30s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v).map(GoDuration).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|v| GoDuration(Duration::from_nanos(v)))
                    .map_err(|_| E::custom("negative duration"))
            }
        }
        d.deserialize_any(V)
    }
}

/// For struct-valued keys: a key written with no value (`tls:`) reads as
/// the default, as in otelcol where an empty value is an empty map.
pub fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Splits `host:port` (also `[::1]:port`, `:port` meaning all interfaces).
pub fn split_host_port(endpoint: &str) -> Result<(String, u16), String> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| format!("endpoint {endpoint:?} must be host:port, like \"0.0.0.0:4317\""))?;
    let port: u16 = port.parse().map_err(|_| format!("endpoint {endpoint:?} has an invalid port {port:?}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok((host.to_owned(), port))
}

/// The endpoint check of otelcol's gRPC exporters (`otlpexporter`'s
/// `Validate`): after an `http://`, `https://` or `dns://` prefix, the
/// endpoint must be `host:port` as Go's `net.SplitHostPort` reads it, with a
/// numeric port. Every gRPC client endpoint (otlp, jaeger, loadbalancing's
/// `protocol.otlp`) is checked with this one function.
pub fn check_grpc_endpoint(endpoint: &str) -> Result<(), String> {
    let ep = endpoint.trim();
    let addr = match ep.strip_prefix("dns://") {
        Some(rest) => rest.strip_prefix('/').unwrap_or(rest),
        None => ep.strip_prefix("http://").or_else(|| ep.strip_prefix("https://")).unwrap_or(ep),
    };
    let addr = addr.trim_end_matches('/');
    let fix = "write host:port, like \"tempo:4317\" or \"https://otlp.example.com:4317\"";
    if addr.is_empty() {
        return Err(format!("is required; {fix}"));
    }
    let port = if let Some(rest) = addr.strip_prefix('[') {
        let Some((_, after)) = rest.split_once(']') else {
            return Err(format!("{ep:?}: missing ']' in address; {fix}"));
        };
        match after.strip_prefix(':') {
            Some(port) => port,
            None if after.is_empty() => return Err(format!("{ep:?} has no port (missing port in address); {fix}")),
            None => return Err(format!("{ep:?}: unexpected text after ']' in address; {fix}")),
        }
    } else {
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(format!("{ep:?} has no port (missing port in address); {fix}"));
        };
        if host.contains(':') {
            return Err(format!(
                "{ep:?}: too many colons in address; write an IPv6 host in brackets, like \"[::1]:4317\""
            ));
        }
        port
    };
    if port.is_empty() || !port.trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit()) || port.len() > 19 {
        return Err(format!("{ep:?} has an invalid port {port:?}; the port must be a number, like 4317"));
    }
    Ok(())
}

/// Resolves a listen endpoint to socket addresses (`localhost` may give both
/// 127.0.0.1 and ::1).
pub fn listen_addrs(endpoint: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    use std::net::ToSocketAddrs;
    let (host, port) = split_host_port(endpoint)?;
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve listen address {endpoint:?}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("listen address {endpoint:?} resolves to nothing"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_go_duration("200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_go_duration("5sec").unwrap_err().contains("unknown unit"));
        let d: GoDuration = serde_json::from_value(serde_json::json!(1_000_000)).unwrap();
        assert_eq!(d.0, Duration::from_millis(1));
    }

    #[test]
    fn splits_endpoints() {
        assert_eq!(split_host_port("0.0.0.0:4317").unwrap(), ("0.0.0.0".into(), 4317));
        assert_eq!(split_host_port(":8888").unwrap(), ("0.0.0.0".into(), 8888));
        assert_eq!(split_host_port("[::1]:4318").unwrap(), ("::1".into(), 4318));
        assert!(split_host_port("localhost").is_err());
        assert!(split_host_port("localhost:http").is_err());
    }

    #[test]
    fn grpc_client_endpoints_need_a_numeric_port_as_in_otelcol() {
        for ok in
            ["tempo:4317", "http://tempo:4317", "https://otlp.example.com:443/", "dns:///tempo:4317", "[::1]:4317"]
        {
            assert_eq!(check_grpc_endpoint(ok), Ok(()), "{ok}");
        }
        let e = check_grpc_endpoint("tempo").unwrap_err();
        assert!(e.contains("has no port (missing port in address)") && e.contains("tempo:4317"), "{e}");
        assert!(check_grpc_endpoint("https://tempo").unwrap_err().contains("missing port"));
        assert!(check_grpc_endpoint("[::1]").unwrap_err().contains("missing port"));
        assert!(check_grpc_endpoint("tempo:otlp").unwrap_err().contains("invalid port \"otlp\""));
        assert!(check_grpc_endpoint("tempo:").unwrap_err().contains("invalid port \"\""));
        assert!(check_grpc_endpoint("::1:4317").unwrap_err().contains("too many colons"));
        assert!(check_grpc_endpoint("[::1:4317").unwrap_err().contains("missing ']'"));
    }
}
