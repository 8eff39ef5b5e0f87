//! What both protocols of the `otlp` receiver hand their requests to: the
//! pipelines of each signal and the receiver's accepted/refused counters.

use std::sync::Arc;

use crate::component::{BuildContext, ConsumeError, SignalConsumers};
use crate::signal::{Batch, Signal};
use crate::telemetry::ReceiverMetrics;

/// Hands validated requests to the pipelines and keeps the receiver counters.
#[derive(Clone)]
pub(crate) struct Ingest {
    consumers: SignalConsumers,
    metrics: Arc<[ReceiverMetrics; 3]>,
    pub admission: crate::runtime::admission::Admission,
}

impl Ingest {
    pub(super) fn new(ctx: &BuildContext, consumers: &SignalConsumers, transport: &str) -> Ingest {
        let id = ctx.id.to_string();
        let metrics = Signal::ALL.map(|s| ctx.telemetry.receiver(s, &id, transport));
        Ingest { consumers: consumers.clone(), metrics: Arc::new(metrics), admission: ctx.admission.clone() }
    }

    pub fn accepts(&self, signal: Signal) -> bool {
        self.consumers.get(signal).is_some()
    }

    /// Passes a batch on; the receiver answers only after this returns.
    pub async fn push(&self, batch: Batch) -> Result<(), ConsumeError> {
        let signal = batch.signal();
        let items = batch.items() as u64;
        if items == 0 {
            return Ok(());
        }
        let consumer = self.consumers.get(signal).expect("routes exist only for consumed signals");
        let metrics = &self.metrics[signal as usize];
        match consumer.consume(batch).await {
            Ok(()) => {
                metrics.accepted.inc_by(items);
                Ok(())
            }
            Err(e) => {
                metrics.refused.inc_by(items);
                Err(e)
            }
        }
    }
}
