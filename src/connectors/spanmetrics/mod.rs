//! The `spanmetrics` connector (also `span_metrics`): traces in, R.E.D.
//! metrics out, as otelcol-contrib's connector emits them — a `calls`
//! monotonic sum and a `duration` histogram (unit `ms` by default) under the
//! `traces.span.metrics` namespace, per service.name, span.name, span.kind,
//! status.code and the configured dimensions, with exemplars carrying the
//! span's trace and span id. After Prometheus translation these are
//! `traces_span_metrics_calls_total` and
//! `traces_span_metrics_duration_milliseconds_*`, the names Jaeger's Monitor
//! tab and the usual dashboards query. Metrics are sent every
//! `metrics_flush_interval` and once more at shutdown. Spans are read in
//! place from the encoded request (`spans.rs`); see benches/spanmetrics.rs.

pub mod aggregate;
pub mod config;
mod flush;
pub mod histogram;
pub mod spans;

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltConnector, ConnectorConfig, ConsumeError, Consumer, Factory,
};
use crate::otlp::data::Decoded;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};
use aggregate::{Aggregator, Settings};
pub use config::SpanMetricsConfig;

pub fn factory(type_name: &'static str) -> Factory<dyn ConnectorConfig> {
    Factory {
        type_name,
        signals: &[Signal::Traces],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<SpanMetricsConfig>(v)?)),
    }
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
}

impl ConnectorConfig for SpanMetricsConfig {
    fn pairs(&self) -> &'static [(Signal, Signal)] {
        &[(Signal::Traces, Signal::Metrics)]
    }

    fn build(
        &self,
        ctx: BuildContext,
        from: Signal,
        to: Signal,
        next: Arc<dyn Consumer>,
    ) -> BuildResult<BuiltConnector> {
        anyhow::ensure!(
            (from, to) == (Signal::Traces, Signal::Metrics),
            "spanmetrics connects traces to metrics, not {from} to {to}"
        );
        let state = Arc::new(SpanMetrics {
            aggregator: Mutex::new(Aggregator::new(Settings::new(self), now_ns())),
            next,
            name: ctx.id.to_string(),
        });
        // flushes on every tick, and once more when the connector stops
        let group = TaskGroup::new(format!("connector {}", ctx.id));
        let (task_state, shutdown, interval) = (state.clone(), group.shutdown_signal(), self.metrics_flush_interval.0);
        group.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.requested() => break,
                    _ = ticks.tick() => task_state.flush().await,
                }
            }
            task_state.flush().await;
        });
        Ok(BuiltConnector { consumer: state, running: Box::new(group) })
    }
}

struct SpanMetrics {
    aggregator: Mutex<Aggregator>,
    next: Arc<dyn Consumer>,
    name: String,
}

impl SpanMetrics {
    /// Sends what was aggregated; a refusal downstream is logged, as
    /// upstream does (cumulative series carry the counts to the next flush).
    async fn flush(&self) {
        let resources = self.aggregator.lock().expect("aggregator lock").flush(Instant::now(), now_ns());
        if resources.is_empty() {
            return;
        }
        if let Err(e) = self.next.consume(Batch::from_decoded(Decoded::Metrics(resources))).await {
            tracing::error!(connector = %self.name, error = %e, "spanmetrics could not hand its metrics on");
        }
    }
}

impl Consumer for SpanMetrics {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let bytes = batch.encoded();
            let mut agg = self.aggregator.lock().expect("aggregator lock");
            agg.consume(&bytes, Instant::now(), now_ns())
                .map(|_| ())
                .map_err(|e| ConsumeError::Permanent(format!("spanmetrics cannot read the spans: {e}")))
        })
    }
}

#[cfg(test)]
mod tests;
