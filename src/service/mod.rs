//! Builds and runs the component graph from a validated config, the way
//! otelcol does: `receivers -> processors -> fan-out -> exporters`, receivers
//! and exporters shared between pipelines, components started downstream
//! first and stopped upstream first, each stage with a deadline.

mod build;
mod fanout;
mod graph;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::component::Running;
use crate::config::Config;
pub use crate::runtime::Health;
use crate::telemetry::Telemetry;
pub use fanout::Fanout;

type Stage = Vec<(String, Box<dyn Running>)>;

/// A running collector.
pub struct Service {
    health: Health,
    receivers: Stage,
    /// processors of each pipeline and connectors, one group each, in build
    /// (downstream-first) order
    middle: Vec<Stage>,
    exporters: Stage,
    extensions: Stage,
}

impl Service {
    /// Starts everything; on error, what was started is stopped again.
    pub async fn start(config: Config, telemetry: Arc<Telemetry>) -> anyhow::Result<Service> {
        let health = Health::new();
        let mut svc = Service {
            health: health.clone(),
            receivers: vec![],
            middle: vec![],
            exporters: vec![],
            extensions: vec![],
        };
        match svc.build(config, telemetry).await {
            Ok(()) => {
                health.set_ready(true);
                Ok(svc)
            }
            Err(e) => {
                svc.shutdown(Duration::from_secs(5)).await;
                Err(e)
            }
        }
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Stops receivers, then flushes processors and connectors pipeline by
    /// pipeline from upstream to downstream, then drains exporters, each
    /// stage bounded by what is left of `timeout`.
    pub async fn shutdown(&mut self, timeout: Duration) {
        self.health.set_ready(false);
        let deadline = Instant::now() + timeout;
        let mut stages = vec![std::mem::take(&mut self.receivers)];
        stages.extend(self.middle.drain(..).rev());
        stages.push(std::mem::take(&mut self.exporters));
        stages.push(std::mem::take(&mut self.extensions));
        for stage in stages {
            for (name, running) in stage {
                running.shutdown(deadline).await;
                if Instant::now() > deadline {
                    tracing::error!(component = %name, "stopped after the shutdown deadline");
                } else {
                    tracing::debug!(component = %name, "stopped");
                }
            }
        }
    }
}
