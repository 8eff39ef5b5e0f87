//! The `loadbalancing` exporter's settings, after otelcol-contrib's
//! `loadbalancingexporter/config.go`: `routing_key`, `protocol.otlp` (the
//! whole `otlp` exporter section except `endpoint`) and one `resolver`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::component::{Invalid, NeededFile, Validate};
use crate::config::types::GoDuration;
use crate::exporters::otlp_sender::OtlpGrpcConfig;
use crate::signal::Signal;

/// The port a resolved address gets when none is given (OTLP/gRPC).
pub const DEFAULT_PORT: u16 = 4317;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancingConfig {
    /// `traceID`, `service`, `resource`, `metric`, `streamID`; empty means
    /// the signal's default (traces: traceID, metrics and logs: service)
    pub routing_key: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub protocol: Protocol,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub resolver: ResolverSettings,
    /// refused with `routing_key: resourceAttr` (see `validate`)
    pub resource_attr_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Protocol {
    /// `endpoint` is ignored, as upstream: the resolver gives the endpoints
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub otlp: OtlpGrpcConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResolverSettings {
    #[serde(rename = "static")]
    pub static_: Option<StaticResolver>,
    pub dns: Option<DnsResolver>,
    /// read only to refuse with a sentence
    pub k8s: Option<Value>,
    /// read only to refuse with a sentence
    pub aws_cloud_map: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaticResolver {
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsResolver {
    pub hostname: String,
    #[serde(deserialize_with = "port")]
    pub port: u16,
    pub interval: GoDuration,
    pub timeout: GoDuration,
    /// otelstack only: `host:port` of the DNS server to ask instead of the
    /// system resolver (which cannot be given a port)
    pub nameserver: Option<String>,
}

impl Default for DnsResolver {
    fn default() -> Self {
        DnsResolver {
            hostname: String::new(),
            port: DEFAULT_PORT,
            interval: GoDuration::secs(5),
            timeout: GoDuration::secs(1),
            nameserver: None,
        }
    }
}

/// otelcol reads `port` as a string; YAML gives a number or a string.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(DEFAULT_PORT),
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()).ok_or_else(|| bad_port(&n.to_string())),
        Value::String(s) if s.is_empty() => Ok(DEFAULT_PORT),
        Value::String(s) => s.parse().map_err(|_| bad_port(&s)),
        other => Err(bad_port(&other.to_string())),
    }
}

fn bad_port<E: serde::de::Error>(v: &str) -> E {
    E::custom(format!("port {v} is not a TCP port; use a number from 1 to 65535, like 4317"))
}

/// How items are grouped before hashing onto the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingKey {
    TraceId,
    Service,
    Resource,
    Metric,
    StreamId,
}

impl RoutingKey {
    const NAMES: [(&'static str, RoutingKey); 5] = [
        ("traceID", RoutingKey::TraceId),
        ("service", RoutingKey::Service),
        ("resource", RoutingKey::Resource),
        ("metric", RoutingKey::Metric),
        ("streamID", RoutingKey::StreamId),
    ];

    fn parse(s: &str) -> Option<RoutingKey> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or_default()
    }

    /// The signals upstream routes by this key.
    fn signals(self) -> &'static [Signal] {
        match self {
            RoutingKey::TraceId => &[Signal::Traces],
            RoutingKey::Service => &[Signal::Traces, Signal::Metrics, Signal::Logs],
            RoutingKey::Resource => &[Signal::Metrics, Signal::Logs],
            RoutingKey::Metric | RoutingKey::StreamId => &[Signal::Metrics],
        }
    }
}

impl LoadBalancingConfig {
    /// The routing key for a pipeline of `signal`, or a sentence saying
    /// which keys that signal supports.
    pub fn routing_key_for(&self, signal: Signal) -> Result<RoutingKey, String> {
        let key = match (self.routing_key.as_str(), signal) {
            ("", Signal::Traces) => return Ok(RoutingKey::TraceId),
            ("", _) => return Ok(RoutingKey::Service),
            (s, _) => RoutingKey::parse(s).ok_or_else(|| unknown_key(s))?,
        };
        if key.signals().contains(&signal) {
            return Ok(key);
        }
        let fits: Vec<&str> =
            RoutingKey::NAMES.iter().filter(|(_, k)| k.signals().contains(&signal)).map(|(n, _)| *n).collect();
        Err(format!(
            "routing_key {:?} does not apply to {signal}; for {signal} use one of {}",
            key.name(),
            fits.join(", ")
        ))
    }

    /// The DNS settings' interval and timeout (for the first-resolution wait).
    pub fn dns_timeout(&self) -> Duration {
        self.resolver.dns.as_ref().map(|d| d.timeout.0).unwrap_or_default()
    }
}

fn unknown_key(s: &str) -> String {
    if s == "attributes" {
        return "routing_key \"attributes\" is not supported by otelstack yet; use service, resource or traceID".into();
    }
    format!("{s:?} is not a routing key; use traceID, service, resource, metric or streamID")
}

/// `host[:port]` with the default OTLP/gRPC port added when missing.
pub fn with_default_port(host: &str) -> String {
    let host = host.trim();
    let has_port = match host.rsplit_once(':') {
        Some((h, p)) => !h.is_empty() && p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')),
        None => false,
    };
    if has_port {
        host.to_owned()
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{DEFAULT_PORT}")
    } else {
        format!("{host}:{DEFAULT_PORT}")
    }
}

impl Validate for LoadBalancingConfig {
    fn needed_files(&self) -> Vec<NeededFile> {
        self.protocol.otlp.tls.needed_files("protocol.otlp.tls")
    }

    fn validate(&self) -> Result<(), Invalid> {
        if self.routing_key == "resourceAttr" || self.resource_attr_key.is_some() {
            return Err(Invalid::at(
                "routing_key",
                "resourceAttr (routing by resource_attr_key) is not supported: use routing_key: service, or \
                 resource to route by all resource attributes",
            ));
        }
        if !self.routing_key.is_empty() {
            RoutingKey::parse(&self.routing_key)
                .ok_or_else(|| Invalid::at("routing_key", unknown_key(&self.routing_key)))?;
        }
        let r = &self.resolver;
        if r.k8s.is_some() {
            return Err(Invalid::at(
                "resolver.k8s",
                "is not supported by otelstack: it watches the Kubernetes API and has not been tested against a cluster; \
                 use resolver.dns with the gateway's headless Service name (like gateway-headless.monitoring.svc.cluster.local) instead",
            ));
        }
        if r.aws_cloud_map.is_some() {
            return Err(Invalid::at(
                "resolver.aws_cloud_map",
                "is not supported by otelstack: it needs the AWS Cloud Map API, which cannot be tested here; \
                 use resolver.dns with the service's DNS name, or resolver.static with the backends' addresses",
            ));
        }
        match (&r.static_, &r.dns) {
            (None, None) => {
                return Err(Invalid::at(
                    "resolver",
                    "needs a resolver: static (hostnames: [\"gw-1:4317\", \"gw-2:4317\"]) or dns (hostname: gateway-headless)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(Invalid::at("resolver", "has both static and dns; configure exactly one of them"))
            }
            (Some(s), None) => validate_static(s)?,
            (None, Some(d)) => validate_dns(d)?,
        }
        self.protocol.otlp.validate_client().map_err(|e| Invalid::at(format!("protocol.otlp.{}", e.path), e.message))
    }
}

fn validate_static(s: &StaticResolver) -> Result<(), Invalid> {
    if s.hostnames.is_empty() {
        return Err(Invalid::at(
            "resolver.static.hostnames",
            "is empty; list the backends, like [\"gw-1:4317\", \"gw-2:4317\"]",
        ));
    }
    for (i, h) in s.hostnames.iter().enumerate() {
        let uri = format!("http://{}", with_default_port(h));
        if h.trim().is_empty() || h.contains('/') || uri.parse::<http::Uri>().is_err() {
            return Err(Invalid::at(
                format!("resolver.static.hostnames[{i}]"),
                format!("{h:?} is not host[:port]; write it like \"gw-1:4317\""),
            ));
        }
    }
    Ok(())
}

fn validate_dns(d: &DnsResolver) -> Result<(), Invalid> {
    if d.hostname.trim().is_empty() {
        return Err(Invalid::at(
            "resolver.dns.hostname",
            "is required, like gateway-headless.monitoring.svc.cluster.local",
        ));
    }
    if d.port == 0 {
        return Err(Invalid::at("resolver.dns.port", "must be a TCP port from 1 to 65535"));
    }
    if d.interval.is_zero() {
        return Err(Invalid::at("resolver.dns.interval", "must be greater than 0, like 5s"));
    }
    if d.timeout.is_zero() {
        return Err(Invalid::at("resolver.dns.timeout", "must be greater than 0, like 1s"));
    }
    if let Some(ns) = &d.nameserver {
        ns.parse::<std::net::SocketAddr>().map_err(|_| {
            Invalid::at(
                "resolver.dns.nameserver",
                format!("{ns:?} is not an address; write ip:port, like 127.0.0.1:5353"),
            )
        })?;
    }
    Ok(())
}
