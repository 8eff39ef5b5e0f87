use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
use opentelemetry_proto::tonic::metrics::v1::metric;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;

use super::config::{with_default_port, LoadBalancingConfig, RoutingKey};
use super::ring::Ring;
use super::routing::split;
use crate::config::load_str;
use crate::otlp::data::Decoded;
use crate::registry::registry;
use crate::signal::Signal;
use crate::testkit::{gauge, kv, logs, metrics, s, spans};

fn errors(exporter: &str) -> String {
    let yaml = format!(
        "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:0}}}}}}}}\n\
         exporters:\n  loadbalancing:\n{exporter}\n\
         service: {{pipelines: {{traces: {{receivers: [otlp], exporters: [loadbalancing]}}}}}}\n"
    );
    match load_str(&yaml, &registry()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_valid_config_loads_with_otlp_settings() {
    let e = errors(
        "    routing_key: traceID\n    protocol: {otlp: {timeout: 1s, tls: {insecure: true}, sending_queue: {queue_size: 50}}}\n    resolver: {static: {hostnames: [gw-1:4317, gw-2]}}",
    );
    assert_eq!(e, "");
    let e = errors("    resolver: {dns: {hostname: gw-headless, port: \"14317\", interval: 2s, timeout: 500ms}}");
    assert_eq!(e, "");
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        ("    resolver: {}", "exporters.loadbalancing.resolver", "needs a resolver"),
        (
            "    resolver: {static: {hostnames: [a]}, dns: {hostname: b}}",
            "exporters.loadbalancing.resolver",
            "exactly one",
        ),
        ("    resolver: {static: {hostnames: []}}", "resolver.static.hostnames", "is empty"),
        ("    resolver: {static: {hostnames: [\"a b/c\"]}}", "resolver.static.hostnames[0]", "host[:port]"),
        ("    resolver: {dns: {port: 4317}}", "resolver.dns.hostname", "is required"),
        ("    resolver: {dns: {hostname: gw, port: 70000}}", "port", "not a TCP port"),
        ("    resolver: {dns: {hostname: gw, interval: 0s}}", "resolver.dns.interval", "greater than 0"),
        ("    resolver: {k8s: {service: lb-svc.kube-public}}", "resolver.k8s", "use resolver.dns"),
        ("    resolver: {aws_cloud_map: {namespace: x}}", "resolver.aws_cloud_map", "not supported"),
        ("    routing_key: trace\n    resolver: {static: {hostnames: [a]}}", "routing_key", "not a routing key"),
        (
            "    protocol: {otlp: {compression: zstd}}\n    resolver: {static: {hostnames: [a]}}",
            "protocol.otlp.compression",
            "zstd",
        ),
        (
            "    protocol: {otlp: {sending_queue: {queue_size: 0}}}\n    resolver: {static: {hostnames: [a]}}",
            "protocol.otlp.sending_queue.queue_size",
            "greater than 0",
        ),
        ("    resolver: {static: {hostnames: [a], extra: 1}}", "resolver.static", "extra"),
    ];
    for (config, path, message) in cases {
        let e = errors(config);
        assert!(e.contains(path) && e.contains(message), "for {config:?}: expected {path:?} and {message:?} in {e:?}");
    }
}

#[test]
fn routing_keys_per_signal_follow_upstream() {
    let cfg = |k: &str| LoadBalancingConfig { routing_key: k.into(), ..Default::default() };
    assert_eq!(cfg("").routing_key_for(Signal::Traces), Ok(RoutingKey::TraceId));
    assert_eq!(cfg("").routing_key_for(Signal::Metrics), Ok(RoutingKey::Service));
    assert_eq!(cfg("").routing_key_for(Signal::Logs), Ok(RoutingKey::Service));
    assert_eq!(cfg("streamID").routing_key_for(Signal::Metrics), Ok(RoutingKey::StreamId));
    assert_eq!(cfg("resource").routing_key_for(Signal::Logs), Ok(RoutingKey::Resource));
    let e = cfg("traceID").routing_key_for(Signal::Metrics).unwrap_err();
    assert!(e.contains("does not apply to metrics") && e.contains("service, resource, metric, streamID"), "{e}");
    assert!(cfg("metric").routing_key_for(Signal::Traces).is_err());
}

#[test]
fn default_port_is_added_only_where_missing() {
    assert_eq!(with_default_port("gw"), "gw:4317");
    assert_eq!(with_default_port("gw:55690"), "gw:55690");
    assert_eq!(with_default_port("10.0.0.1"), "10.0.0.1:4317");
    assert_eq!(with_default_port("::1"), "[::1]:4317");
    assert_eq!(with_default_port("[::1]:4000"), "[::1]:4000");
}

fn ring3() -> Ring {
    Ring::new(vec!["gw-1:4317".into(), "gw-2:4317".into(), "gw-3:4317".into()])
}

/// Spans of 60 traces spread over three resources (one per service), the
/// trace id of span `i` of resource `r` being `(i + r) % 60`.
fn mixed_traces() -> Vec<ResourceSpans> {
    (0..3)
        .map(|r| {
            let mut rs = spans(&format!("svc-{r}"), &format!("r{r}"), 60);
            for (i, span) in rs.scope_spans[0].spans.iter_mut().enumerate() {
                span.trace_id = [((i + r) % 60) as u8; 16].to_vec();
            }
            rs
        })
        .collect()
}

#[test]
fn traces_split_by_trace_id_across_resources() {
    let ring = ring3();
    let parts = split(Decoded::Traces(mixed_traces()), RoutingKey::TraceId, 3, &|k| ring.index_for(k));
    let mut owner_of_trace: BTreeMap<u8, usize> = BTreeMap::new();
    let mut names = BTreeSet::new();
    for (i, part) in &parts {
        let Decoded::Traces(rs) = part else { panic!("traces in, traces out") };
        for r in rs {
            let service = super::routing::service_name(r.resource.as_ref().unwrap());
            assert!(service.starts_with("svc-"), "the resource goes along with its spans");
            for span in &r.scope_spans[0].spans {
                assert_eq!(r.scope_spans[0].scope.as_ref().unwrap().name, "test");
                let trace = span.trace_id[0];
                assert_eq!(*owner_of_trace.entry(trace).or_insert(*i), *i, "trace {trace} went to two backends");
                assert_eq!(ring.index_for(&span.trace_id), *i);
                assert!(names.insert(span.name.clone()), "span {} twice", span.name);
            }
        }
    }
    assert_eq!(names.len(), 180, "every span arrives once");
    assert_eq!(owner_of_trace.len(), 60);
    assert!(parts.len() == 3, "60 traces spread over all three backends");
}

#[test]
fn service_and_resource_keys_route_whole_resources() {
    let ring = ring3();
    let parts = split(Decoded::Traces(mixed_traces()), RoutingKey::Service, 3, &|k| ring.index_for(k));
    let total: usize = parts.iter().map(|(_, d)| d.item_count()).sum();
    assert_eq!(total, 180);
    for (i, part) in &parts {
        let Decoded::Traces(rs) = part else { panic!() };
        for r in rs {
            let service = super::routing::service_name(r.resource.as_ref().unwrap());
            assert_eq!(ring.index_for(service.as_bytes()), *i);
            assert_eq!(r.scope_spans[0].spans.len(), 60, "a resource is not cut");
        }
    }
    let batch = vec![logs("a", &["x", "y"]), logs("b", &["z"]), logs("a", &["w"])];
    let parts = split(Decoded::Logs(batch), RoutingKey::Resource, 3, &|k| ring.index_for(k));
    let owner = |svc: &str| {
        parts
            .iter()
            .find(|(_, d)| match d {
                Decoded::Logs(rl) => {
                    rl.iter().any(|r| super::routing::service_name(r.resource.as_ref().unwrap()) == svc)
                }
                _ => false,
            })
            .map(|(i, _)| *i)
    };
    let a_items: usize = parts.iter().filter(|(i, _)| Some(*i) == owner("a")).map(|(_, d)| d.item_count()).sum();
    assert!(a_items >= 3, "both resources of service a (same attributes) go to one backend");
}

#[test]
fn metric_key_routes_by_name_and_stream_key_by_point() {
    let ring = ring3();
    let batch = vec![metrics("a", vec![gauge("m1", 30), gauge("m2", 30)]), metrics("b", vec![gauge("m1", 5)])];
    let parts = split(Decoded::Metrics(batch.clone()), RoutingKey::Metric, 3, &|k| ring.index_for(k));
    for (i, part) in &parts {
        let Decoded::Metrics(rm) = part else { panic!() };
        for m in rm.iter().flat_map(|r| r.scope_metrics.iter().flat_map(|s| s.metrics.iter())) {
            assert_eq!(ring.index_for(m.name.as_bytes()), *i);
        }
    }
    assert_eq!(parts.iter().map(|(_, d)| d.item_count()).sum::<usize>(), 65);

    let parts = split(Decoded::Metrics(batch), RoutingKey::StreamId, 3, &|k| ring.index_for(k));
    assert_eq!(parts.iter().map(|(_, d)| d.item_count()).sum::<usize>(), 65, "no point lost or doubled");
    assert!(parts.len() > 1, "the 30 streams of m1 spread over backends");
    let mut owner_of_stream: BTreeMap<(String, String, i64), usize> = BTreeMap::new();
    for (i, part) in &parts {
        let Decoded::Metrics(rm) = part else { panic!() };
        for r in rm {
            let svc = super::routing::service_name(r.resource.as_ref().unwrap());
            for m in r.scope_metrics.iter().flat_map(|s| s.metrics.iter()) {
                let Some(metric::Data::Gauge(g)) = &m.data else { panic!("kind kept") };
                for p in &g.data_points {
                    let Some(V::IntValue(n)) = p.attributes[0].value.as_ref().unwrap().value else { panic!() };
                    let key = (svc.clone(), m.name.clone(), n);
                    assert!(owner_of_stream.insert(key, *i).is_none(), "a stream's point appears once here");
                }
            }
        }
    }
    // The same stream sent again goes to the same backend.
    let again = split(Decoded::Metrics(vec![metrics("a", vec![gauge("m1", 30)])]), RoutingKey::StreamId, 3, &|k| {
        ring.index_for(k)
    });
    for (i, part) in &again {
        let Decoded::Metrics(rm) = part else { panic!() };
        for m in rm.iter().flat_map(|r| r.scope_metrics.iter().flat_map(|s| s.metrics.iter())) {
            let Some(metric::Data::Gauge(g)) = &m.data else { panic!() };
            for p in &g.data_points {
                let Some(V::IntValue(n)) = p.attributes[0].value.as_ref().unwrap().value else { panic!() };
                assert_eq!(owner_of_stream[&("a".to_string(), "m1".to_string(), n)], *i);
            }
        }
    }
}

#[test]
fn resources_without_service_name_stay_together() {
    let ring = ring3();
    let mut a = logs("x", &["1"]);
    a.resource.as_mut().unwrap().attributes = vec![kv("host.name", s("n1"))];
    let mut b = logs("x", &["2"]);
    b.resource.as_mut().unwrap().attributes = vec![kv("host.name", s("n2"))];
    let parts = split(Decoded::Logs(vec![a, b]), RoutingKey::Service, 3, &|k| ring.index_for(k));
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].1.item_count(), 2);
}
