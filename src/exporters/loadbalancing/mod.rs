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
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use self::balancer::Balancer;
use self::config::{with_default_port, DnsResolver, LoadBalancingConfig};
use crate::component::{parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory, Running};
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
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let key = self.routing_key_for(signal).map_err(|e| anyhow::anyhow!("{}: {e}", ctx.id))?;
        let first_wait = self.dns_timeout() + std::time::Duration::from_millis(500);
        let balancer = Balancer::new(signal, key, self.protocol.otlp.clone(), ctx, first_wait);
        let resolver = match (&self.resolver.static_, &self.resolver.dns) {
            (Some(s), _) => {
                balancer.update(s.hostnames.iter().map(|h| with_default_port(h)).collect())?;
                None
            }
            (None, Some(d)) => Some(tokio::spawn(resolve_dns(Arc::downgrade(&balancer), d.clone()))),
            (None, None) => anyhow::bail!("no resolver configured (validation should have refused this)"),
        };
        Ok(BuiltExporter {
            consumer: balancer.clone(),
            running: Box::new(LoadBalancingRunning { balancer, resolver: Mutex::new(resolver) }),
        })
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

struct LoadBalancingRunning {
    balancer: Arc<Balancer>,
    resolver: Mutex<Option<JoinHandle<()>>>,
}

impl Running for LoadBalancingRunning {
    fn shutdown(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, ()> {
        if let Some(task) = self.resolver.lock().expect("lock").take() {
            task.abort();
        }
        Box::pin(self.balancer.shutdown(deadline))
    }
}

#[cfg(test)]
mod tests;
