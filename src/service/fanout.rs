//! Hands one batch to several consumers: pipelines sharing a receiver, or
//! exporters sharing a pipeline. The batch is encoded once and every branch
//! gets the same buffer.

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::component::{ConsumeError, Consumer};
use crate::signal::Batch;

pub struct Fanout(Vec<Arc<dyn Consumer>>);

impl Fanout {
    /// One consumer is returned as it is; several are wrapped.
    pub fn of(mut consumers: Vec<Arc<dyn Consumer>>) -> Arc<dyn Consumer> {
        if consumers.len() == 1 {
            return consumers.pop().expect("one");
        }
        Arc::new(Fanout(consumers))
    }
}

impl Consumer for Fanout {
    fn consume(&self, mut batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            batch.make_encoded();
            let results = futures::future::join_all(self.0.iter().map(|c| c.consume(batch.clone()))).await;
            // A retryable refusal wins: the sender should try again.
            let mut first_err = None;
            for r in results {
                match r {
                    Ok(()) => {}
                    Err(e @ ConsumeError::Refused { .. }) => return Err(e),
                    Err(e) => first_err = first_err.or(Some(e)),
                }
            }
            first_err.map_or(Ok(()), Err)
        })
    }
}
