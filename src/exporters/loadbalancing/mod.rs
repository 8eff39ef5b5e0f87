//! The `loadbalancing` exporter, after otelcol-contrib's: routes every
//! item by its routing key (trace id by default) over a consistent-hash
//! ring of backends, each an `otlp` sender with the `protocol.otlp`
//! settings, so that all spans of a trace reach the same gateway. Backends
//! come from `resolver.static` or, re-resolved every interval, `resolver.dns`.

pub mod balancer;
pub mod config;
pub mod dns;
pub mod ring;
pub mod routing;

use std::net::SocketAddr;
use std::sync::Arc;

use futures::future::BoxFuture;

use self::balancer::Balancer;
use self::config::{with_default_port, DnsResolver, LoadBalancingConfig};
use crate::component::{parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Running};
use crate::runtime::{ExtensionRef, TaskGroup};
use crate::signal::Signal;

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "loadbalancing",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<LoadBalancingConfig>(v)?)),
    }
}

impl ExporterConfig for LoadBalancingConfig {
    /// No `sending_queue` of its own: each backend's sender queues through
    /// `protocol.otlp.sending_queue`, whose storage is checked here.
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        let otlp = &self.protocol.otlp;
        otlp.auth
            .iter()
            .map(|a| a.reference("auth"))
            .chain(otlp.sending_queue.storage_ref())
            .map(|r| ExtensionRef { path: format!("protocol.otlp.{}", r.path), ..r })
            .collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let key = self.routing_key_for(signal).map_err(|e| anyhow::anyhow!("{}: {e}", ctx.id))?;
        let group = TaskGroup::new(format!("exporter {} ({signal})", ctx.id));
        let first_wait = self.dns_timeout() + std::time::Duration::from_millis(500);
        let balancer = Balancer::new(signal, key, self.protocol.otlp.clone(), ctx, first_wait);
        match (&self.resolver.static_, &self.resolver.dns) {
            (Some(s), _) => balancer.update(s.hostnames.iter().map(|h| with_default_port(h)).collect())?,
            (None, Some(d)) => group.spawn_detached(resolve_dns(Arc::downgrade(&balancer), d.clone())),
            (None, None) => anyhow::bail!("no resolver configured (validation should have refused this)"),
        }
        // the resolver stops first, then every backend's queue drains
        Ok(BuiltExporter { consumer: balancer.clone(), running: Box::new(group.then(Box::new(balancer))) })
    }
}

/// Resolves `hostname` now and every `interval`; a failed lookup keeps the
/// backends of the last answer (as upstream).
async fn resolve_dns(balancer: std::sync::Weak<Balancer>, settings: DnsResolver) {
    let nameserver = settings.nameserver.as_deref().and_then(|ns| ns.parse::<SocketAddr>().ok());
    let mut tick = tokio::time::interval(settings.interval.0);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(balancer) = balancer.upgrade() else { return };
        match dns::lookup(&settings.hostname, nameserver, settings.timeout.0).await {
            Ok(ips) => {
                let endpoints = ips.iter().map(|ip| SocketAddr::new(*ip, settings.port).to_string()).collect();
                if let Err(e) = balancer.update(endpoints) {
                    tracing::error!(hostname = %settings.hostname, error = %e, "cannot set up the resolved backends");
                }
            }
            Err(e) => {
                tracing::warn!(hostname = %settings.hostname, error = %e, kept = ?balancer.endpoints(), "DNS lookup failed; keeping the current backends")
            }
        }
    }
}

impl Running for Arc<Balancer> {
    fn shutdown(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, ()> {
        Box::pin(Balancer::shutdown(self, deadline))
    }
}

#[cfg(test)]
mod tests;
