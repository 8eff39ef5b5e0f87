//! The `memory_limiter` processor: every `check_interval` it reads the
//! collector's live heap bytes (resident memory when the counting allocator
//! is not installed); above the soft limit (`limit - spike`) it
//! refuses data with a retryable error, so clients get gRPC UNAVAILABLE /
//! HTTP 503 and send again later. Put it first in a pipeline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;

use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltProcessor, ConsumeError, Consumer, Factory, Invalid,
    ProcessorConfig, Validate,
};
use crate::config::types::GoDuration;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLimiterConfig {
    pub check_interval: GoDuration,
    pub limit_mib: u64,
    pub spike_limit_mib: u64,
    pub limit_percentage: u64,
    pub spike_limit_percentage: u64,
}

pub fn factory() -> Factory<dyn ProcessorConfig> {
    Factory {
        type_name: "memory_limiter",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<MemoryLimiterConfig>(v)?)),
    }
}

impl Validate for MemoryLimiterConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.check_interval.is_zero() {
            return Err(Invalid::at("check_interval", "must be greater than zero, like \"1s\""));
        }
        if self.limit_mib == 0 && self.limit_percentage == 0 {
            return Err(Invalid::at("limit_mib", "set limit_mib or limit_percentage to a value above zero"));
        }
        if self.limit_mib > 0 && self.spike_limit_mib >= self.limit_mib {
            return Err(Invalid::at("spike_limit_mib", "must be smaller than limit_mib"));
        }
        if self.limit_percentage > 100 || self.spike_limit_percentage > 100 {
            return Err(Invalid::at("limit_percentage", "percentages must be between 0 and 100"));
        }
        if self.limit_mib == 0 && self.spike_limit_percentage >= self.limit_percentage {
            return Err(Invalid::at("spike_limit_percentage", "must be smaller than limit_percentage"));
        }
        Ok(())
    }
}

impl MemoryLimiterConfig {
    /// (hard, soft) limits in bytes.
    pub fn limits(&self, total_memory: u64) -> (u64, u64) {
        if self.limit_mib > 0 {
            let hard = self.limit_mib * MIB;
            let spike = if self.spike_limit_mib > 0 { self.spike_limit_mib * MIB } else { hard / 5 };
            (hard, hard - spike)
        } else {
            let hard = total_memory / 100 * self.limit_percentage;
            let spike = total_memory / 100 * self.spike_limit_percentage;
            (hard, hard.saturating_sub(spike))
        }
    }
}

/// The memory available to this process: the cgroup limit when there is
/// one, else the host's total memory.
pub fn total_memory() -> u64 {
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|s| s.trim().parse::<u64>().ok());
    let host = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(u64::MAX);
    let cgroup = read("/sys/fs/cgroup/memory.max").or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"));
    cgroup.filter(|c| *c < host).unwrap_or(host)
}

impl ProcessorConfig for MemoryLimiterConfig {
    /// The spike allowance: what may arrive between two checks.
    fn admission_budget(&self) -> Option<u64> {
        let (hard, soft) = self.limits(total_memory());
        Some(hard - soft)
    }

    fn build(&self, ctx: BuildContext, _signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor> {
        let (hard, soft) = self.limits(total_memory());
        let refusing = Arc::new(AtomicBool::new(false));
        let group = TaskGroup::new(format!("processor {}", ctx.id));
        let interval = self.check_interval.0;
        let (flag, token, id) = (refusing.clone(), group.shutdown_signal().token(), ctx.id.to_string());
        group.spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = token.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let rss = current_rss(soft);
                // both the live heap (what the collector holds; the counting allocator is in
                // the binary) and the resident size must stay under the soft limit
                let used = crate::alloc::live_bytes().unwrap_or(rss).max(rss);
                let over = used > soft;
                if over != flag.swap(over, Ordering::SeqCst) {
                    if over {
                        tracing::warn!(processor = %id, rss_mib = rss / MIB, soft_limit_mib = soft / MIB, hard_limit_mib = hard / MIB, "memory usage is above the soft limit; refusing data");
                    } else {
                        tracing::info!(processor = %id, rss_mib = rss / MIB, "memory usage is below the soft limit again; accepting data");
                    }
                }
            }
        });
        Ok(BuiltProcessor {
            consumer: Arc::new(Limiter { refusing, retry_after: interval.max(Duration::from_secs(1)), next }),
            running: Some(Box::new(group)),
        })
    }
}

/// Resident memory; above the soft limit, freed memory is first handed back
/// to the system (glibc keeps it otherwise), as otelcol forces a GC.
fn current_rss(soft: u64) -> u64 {
    let rss = crate::telemetry::rss_bytes().unwrap_or(0);
    if rss <= soft {
        return rss;
    }
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe { libc::malloc_trim(0) };
    crate::telemetry::rss_bytes().unwrap_or(rss)
}

struct Limiter {
    refusing: Arc<AtomicBool>,
    retry_after: Duration,
    next: Arc<dyn Consumer>,
}

impl Consumer for Limiter {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        if self.refusing.load(Ordering::SeqCst) {
            return Box::pin(async move {
                Err(ConsumeError::Refused {
                    reason: "data refused due to high memory usage".into(),
                    retry_after: Some(self.retry_after),
                })
            });
        }
        self.next.consume(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: serde_json::Value) -> MemoryLimiterConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn limits_follow_otelcol() {
        assert_eq!(
            cfg(serde_json::json!({"check_interval": "1s", "limit_mib": 512, "spike_limit_mib": 128})).limits(0),
            (512 * MIB, 384 * MIB)
        );
        assert_eq!(
            cfg(serde_json::json!({"check_interval": "1s", "limit_mib": 100})).limits(0),
            (100 * MIB, 80 * MIB),
            "spike defaults to 20%"
        );
        let pct =
            cfg(serde_json::json!({"check_interval": "1s", "limit_percentage": 50, "spike_limit_percentage": 10}));
        assert_eq!(pct.limits(1000 * MIB), (500 * MIB, 400 * MIB));
    }

    #[test]
    fn validation_names_the_problem() {
        let err = |v| cfg(v).validate().unwrap_err();
        assert_eq!(err(serde_json::json!({"limit_mib": 10})).path, "check_interval");
        assert_eq!(err(serde_json::json!({"check_interval": "1s"})).path, "limit_mib");
        assert_eq!(
            err(serde_json::json!({"check_interval": "1s", "limit_mib": 10, "spike_limit_mib": 10})).path,
            "spike_limit_mib"
        );
        assert!(cfg(serde_json::json!({"check_interval": "1s", "limit_mib": 256})).validate().is_ok());
    }

    #[tokio::test]
    async fn refuses_above_the_soft_limit_and_passes_below() {
        let sink = Arc::new(crate::testkit::CollectSink::default());
        let ctx = BuildContext::new(
            crate::component::ComponentId::parse("memory_limiter").unwrap(),
            Arc::new(crate::telemetry::Telemetry::new()),
        );
        // 1 MiB is far below this process's resident memory: the first check refuses
        let low = cfg(serde_json::json!({"check_interval": "10ms", "limit_mib": 2, "spike_limit_mib": 1}));
        let p = low.build(ctx.clone(), Signal::Traces, sink.clone()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let r = p.consumer.consume(crate::testkit::traces_batch(vec![crate::testkit::spans("s", "x", 1)])).await;
        assert!(matches!(r, Err(ConsumeError::Refused { retry_after: Some(_), .. })), "{r:?}");
        let high = cfg(serde_json::json!({"check_interval": "10ms", "limit_mib": 1_000_000}));
        let p2 = high.build(ctx, Signal::Traces, sink.clone()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        p2.consumer.consume(crate::testkit::traces_batch(vec![crate::testkit::spans("s", "x", 1)])).await.unwrap();
        assert_eq!(sink.items(), 1);
        for running in [p.running, p2.running].into_iter().flatten() {
            running.shutdown(tokio::time::Instant::now()).await;
        }
    }
}
