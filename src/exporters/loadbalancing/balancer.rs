//! The routing table: one `otlp` sender (with its own queue and retries)
//! per resolved backend and the ring over them. A resolver replaces the
//! table; a removed backend's pending batches are routed again through the
//! new table instead of being sent to a backend that is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::RoutingKey;
use super::ring::Ring;
use super::routing;
use crate::component::{BuildContext, ComponentId, ConsumeError, Consumer, Running};
use crate::exporters::helper::{self, Export, ExportError};
use crate::exporters::otlp_sender::{OtlpGrpcConfig, OtlpGrpcExport};
use crate::otlp::PartialSuccess;
use crate::signal::{Batch, Signal};

/// How long a removed backend may take to hand its queue back for routing.
const DRAIN_LIMIT: Duration = Duration::from_secs(600);
/// Rounds of routing again the parts that met a backend removed meanwhile.
const ROUTE_ROUNDS: usize = 4;

struct Backend {
    endpoint: String,
    consumer: Arc<dyn Consumer>,
    running: Box<dyn Running>,
    removed: Arc<AtomicBool>,
}

#[derive(Default)]
struct Table {
    ring: Ring,
    /// indexed like `ring.endpoints()`
    backends: Vec<Arc<Backend>>,
}

pub struct Balancer {
    signal: Signal,
    key: RoutingKey,
    otlp: OtlpGrpcConfig,
    ctx: BuildContext,
    table: RwLock<Arc<Table>>,
    /// removed backends still handing back their queues
    draining: Mutex<Vec<Arc<Backend>>>,
    /// true once the resolver answered the first time
    resolved: watch::Sender<bool>,
    /// how long a batch waits for the first answer
    first_wait: Duration,
    me: Weak<Balancer>,
}

impl Balancer {
    pub fn new(
        signal: Signal,
        key: RoutingKey,
        otlp: OtlpGrpcConfig,
        ctx: BuildContext,
        first_wait: Duration,
    ) -> Arc<Balancer> {
        Arc::new_cyclic(|me| Balancer {
            signal,
            key,
            otlp,
            ctx,
            table: RwLock::new(Arc::new(Table::default())),
            draining: Mutex::new(Vec::new()),
            resolved: watch::channel(false).0,
            first_wait,
            me: me.clone(),
        })
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.table.read().expect("lock").ring.endpoints().to_vec()
    }

    /// Replaces the backends with `endpoints`: new ones get a sender, kept
    /// ones keep theirs (and their queue), removed ones hand back their queue.
    pub fn update(&self, endpoints: Vec<String>) -> anyhow::Result<()> {
        let ring = Ring::new(endpoints);
        let old = self.table.read().expect("lock").clone();
        if ring.endpoints() == old.ring.endpoints() {
            self.resolved.send_replace(true);
            return Ok(());
        }
        let mut backends = Vec::with_capacity(ring.endpoints().len());
        for endpoint in ring.endpoints() {
            match old.backends.iter().find(|b| &b.endpoint == endpoint) {
                Some(b) => backends.push(b.clone()),
                None => backends.push(Arc::new(self.backend(endpoint)?)),
            }
        }
        let removed: Vec<Arc<Backend>> =
            old.backends.iter().filter(|b| !ring.endpoints().contains(&b.endpoint)).cloned().collect();
        tracing::info!(exporter = %self.ctx.id, signal = %self.signal, backends = ?ring.endpoints(), "load-balancing backends changed");
        *self.table.write().expect("lock") = Arc::new(Table { ring, backends });
        self.resolved.send_replace(true);
        for backend in removed {
            backend.removed.store(true, Ordering::SeqCst);
            self.draining.lock().expect("lock").push(backend.clone());
            let me = self.me.clone();
            tokio::spawn(async move {
                backend.running.shutdown(Instant::now() + DRAIN_LIMIT).await;
                if let Some(me) = me.upgrade() {
                    me.draining.lock().expect("lock").retain(|b| !Arc::ptr_eq(b, &backend));
                }
            });
        }
        Ok(())
    }

    /// A sender to one backend, named like upstream's (`otlp/<endpoint>`).
    fn backend(&self, endpoint: &str) -> anyhow::Result<Backend> {
        let removed = Arc::new(AtomicBool::new(false));
        let export = Rerouting {
            inner: self.otlp.with_endpoint(endpoint).export(self.signal, &self.ctx.host)?,
            removed: removed.clone(),
            balancer: self.me.clone(),
        };
        let mut ctx = self.ctx.clone();
        ctx.id = ComponentId { type_name: "otlp".into(), name: Some(endpoint.to_owned()) };
        let built = helper::build_for(&ctx, self.signal, Box::new(export), self.otlp.helper_settings())?;
        Ok(Backend { endpoint: endpoint.to_owned(), consumer: built.consumer, running: built.running, removed })
    }

    /// Sends each part of `batch` to the backend owning its key.
    pub async fn route(&self, batch: Batch) -> Result<(), ConsumeError> {
        let mut pending = vec![batch];
        let mut errors = Vec::new();
        for _ in 0..ROUTE_ROUNDS {
            let table = self.current_table().await?;
            let mut parts = Vec::new();
            for batch in pending.drain(..) {
                parts.extend(self.split(&table, batch)?);
            }
            let sends = parts.into_iter().map(|(i, part)| {
                let backend = table.backends[i].clone();
                async move {
                    let copy = part.clone();
                    (backend.consumer.consume(part).await, copy, backend)
                }
            });
            for (result, part, backend) in futures::future::join_all(sends).await {
                match result {
                    Ok(()) => {}
                    Err(_) if backend.removed.load(Ordering::SeqCst) => pending.push(part),
                    Err(e) => errors.push(e),
                }
            }
            if pending.is_empty() {
                break;
            }
        }
        if !pending.is_empty() {
            errors.push(ConsumeError::refused("the load-balancing backends kept changing while routing; try again"));
        }
        errors.into_iter().next().map_or(Ok(()), Err)
    }

    async fn current_table(&self) -> Result<Arc<Table>, ConsumeError> {
        let table = self.table.read().expect("lock").clone();
        if !table.ring.is_empty() {
            return Ok(table);
        }
        // Right after start the resolver may not have answered yet.
        let mut resolved = self.resolved.subscribe();
        let _ = tokio::time::timeout(self.first_wait, resolved.wait_for(|r| *r)).await;
        let table = self.table.read().expect("lock").clone();
        if table.ring.is_empty() {
            return Err(ConsumeError::Refused {
                reason: format!("{}: no backend resolved yet", self.ctx.id),
                retry_after: Some(Duration::from_secs(1)),
            });
        }
        Ok(table)
    }

    fn split(&self, table: &Table, mut batch: Batch) -> Result<Vec<(usize, Batch)>, ConsumeError> {
        if table.backends.len() == 1 {
            return Ok(vec![(0, batch)]);
        }
        let decoded = std::mem::replace(
            batch.decoded_mut().map_err(|e| ConsumeError::Permanent(format!("{}: {e}", self.ctx.id)))?,
            crate::otlp::data::Decoded::empty(self.signal),
        );
        let ring = &table.ring;
        let parts = routing::split(decoded, self.key, table.backends.len(), &|key| ring.index_for(key));
        Ok(parts
            .into_iter()
            .map(|(i, d)| {
                let mut part = Batch::from_decoded(d);
                part.make_encoded();
                (i, part)
            })
            .collect())
    }

    /// Stops every backend, the removed ones still draining included.
    pub async fn shutdown(&self, deadline: Instant) {
        let table = std::mem::take(&mut *self.table.write().expect("lock"));
        let draining = std::mem::take(&mut *self.draining.lock().expect("lock"));
        let all = table.backends.iter().chain(draining.iter()).map(|b| b.running.shutdown(deadline));
        futures::future::join_all(all).await;
    }
}

impl Consumer for Balancer {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(self.route(batch))
    }
}

/// A backend's sender: sends while the backend is in the table; once it is
/// removed, routes what it still holds through the current table.
struct Rerouting {
    inner: OtlpGrpcExport,
    removed: Arc<AtomicBool>,
    balancer: Weak<Balancer>,
}

impl Export for Rerouting {
    fn export(&self, batch: Batch) -> BoxFuture<'_, Result<PartialSuccess, ExportError>> {
        Box::pin(async move {
            if !self.removed.load(Ordering::SeqCst) {
                return self.inner.export(batch).await;
            }
            let Some(balancer) = self.balancer.upgrade() else {
                return Err(ExportError::Permanent("the load-balancing exporter has stopped".into()));
            };
            balancer.route(batch).await.map(|()| PartialSuccess::default()).map_err(|e| match e {
                ConsumeError::Permanent(m) => ExportError::Permanent(m),
                ConsumeError::Refused { reason, retry_after } => {
                    ExportError::Retryable { message: reason, retry_after }
                }
            })
        })
    }
}
