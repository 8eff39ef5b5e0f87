//! The settings the exporter helper reads from every exporter's config:
//! `retry_on_failure` and `sending_queue` (with its `batch` section), with
//! otelcol's defaults and validation.

use std::time::Duration;

use serde::Deserialize;

use crate::component::{ComponentId, Invalid};
use crate::config::types::GoDuration;
use crate::exporters::queue::batcher::{self, QueueBatchConfig};
use crate::exporters::queue::Sizer;
use crate::runtime::{Capability, ExtensionRef};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub max_interval: GoDuration,
    pub multiplier: f64,
    pub randomization_factor: f64,
    /// 0 retries forever
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::secs(5),
            max_interval: GoDuration::secs(30),
            multiplier: 1.5,
            randomization_factor: 0.5,
            max_elapsed_time: GoDuration::secs(300),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub enabled: bool,
    pub num_consumers: usize,
    /// in units of `sizer`
    pub queue_size: usize,
    /// wait for room instead of refusing when the queue is full
    pub block_on_overflow: bool,
    /// older name of block_on_overflow
    pub blocking: bool,
    pub sizer: String,
    /// refused when true: the queue answers the sender once a request is queued
    pub wait_for_result: bool,
    /// `file_storage[/name]`: keep the queue on disk in that extension's directory
    pub storage: Option<String>,
    /// exporter-side batching between the queue and the workers; off unless present
    #[serde(deserialize_with = "batcher::deserialize_batch")]
    pub batch: Option<QueueBatchConfig>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            block_on_overflow: false,
            blocking: false,
            sizer: "requests".into(),
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

/// Why the exporters refuse `batcher`: otelcol deprecated it for
/// `sending_queue.batch`, which otelstack implements.
pub const BATCHER: &str = "is not supported under this name: otelcol moved the exporter-side batcher to \
     sending_queue.batch (flush_timeout, min_size, max_size, sizer); move these settings there";

impl QueueConfig {
    /// `sending_queue.storage`, when the queue is kept in a storage extension.
    pub fn storage_ref(&self) -> Option<ExtensionRef> {
        let id = self.storage.clone().filter(|_| self.enabled)?;
        Some(ExtensionRef { path: "sending_queue.storage".into(), id, needs: Capability::Storage })
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        if !self.enabled {
            return Ok(());
        }
        if self.queue_size == 0 {
            return Err(Invalid::at("sending_queue.queue_size", "must be greater than 0"));
        }
        if self.num_consumers == 0 {
            return Err(Invalid::at("sending_queue.num_consumers", "must be greater than 0"));
        }
        if self.wait_for_result {
            return Err(Invalid::at(
                "sending_queue.wait_for_result",
                "is not supported: the queue answers the sender as soon as a request is queued; to make senders \
                 wait for the export's result, turn the queue off with sending_queue.enabled: false",
            ));
        }
        if Sizer::parse(&self.sizer).is_none() {
            return Err(Invalid::at("sending_queue.sizer", "must be \"requests\", \"items\" or \"bytes\""));
        }
        if let Some(id) = &self.storage {
            ComponentId::parse(id).map_err(|e| Invalid::at("sending_queue.storage", e))?;
        }
        if let Some(batch) = &self.batch {
            batch.validate(&self.sizer, self.queue_size)?;
        }
        Ok(())
    }
}

impl RetryConfig {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.enabled && self.multiplier < 1.0 {
            return Err(Invalid::at("retry_on_failure.multiplier", "must be at least 1"));
        }
        if !(0.0..=1.0).contains(&self.randomization_factor) {
            return Err(Invalid::at("retry_on_failure.randomization_factor", "must be between 0 and 1"));
        }
        Ok(())
    }

    /// The wait before attempt `n + 1` (n starts at 0), with jitter.
    pub(crate) fn backoff(&self, n: u32) -> Duration {
        let base = self.initial_interval.0.as_secs_f64() * self.multiplier.powi(n as i32);
        let base = base.min(self.max_interval.0.as_secs_f64());
        let jitter = self.randomization_factor * base;
        let lo = (base - jitter).max(0.0);
        Duration::from_secs_f64(lo + fastrand::f64() * 2.0 * jitter)
    }
}
