//! Processors: `batch` holds data and sends it on by size or time;
//! `memory_limiter` refuses data while memory is high; `resource` and
//! `attributes` change attributes in place (`attributes` only on the items
//! its `include`/`exclude` rules in `filter` select). Each module has its config,
//! factory and tests.

pub mod actions;
pub mod attributes;
pub mod batch;
pub mod filter;
pub mod memory_limiter;
pub mod resource;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::component::{ConsumeError, Consumer};
use crate::otlp::data::Decoded;
use crate::signal::Batch;

/// A processor that changes decoded data in place and passes it on.
pub struct Transform<F> {
    apply: F,
    next: Arc<dyn Consumer>,
}

impl<F: Fn(&mut Decoded) + Send + Sync> Transform<F> {
    pub fn new(apply: F, next: Arc<dyn Consumer>) -> Transform<F> {
        Transform { apply, next }
    }
}

impl<F: Fn(&mut Decoded) + Send + Sync> Consumer for Transform<F> {
    fn consume(&self, mut batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let decoded = batch.decoded_mut().map_err(|e| ConsumeError::Permanent(e.to_string()))?;
            (self.apply)(decoded);
            batch.recount();
            self.next.consume(batch).await
        })
    }
}
