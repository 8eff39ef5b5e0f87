//! The `alert` exporter (traces and logs): turns failed operations (see
//! [`crate::exporters::failure`], shared with the `mysql` exporter) into
//! notifications, grouped by service + operation + error type with
//! Alertmanager's `group_wait` / `group_interval` / `repeat_interval` and a
//! resolved notice after `resolve_timeout` of quiet ([`groups`]). Targets:
//! `alertmanager` (`POST <endpoint>/api/v2/alerts`, so routing, silences
//! and receivers stay in Alertmanager) and `webhook` (the generic JSON body,
//! or `format: slack` for Slack incoming webhooks), see [`notify`].
//!
//! At shutdown it takes in what is queued and notifies every group with
//! failures not yet notified (inside `group_wait` or `group_interval`), so
//! stopping the collector reports what it accepted; resolved notices are
//! not sent then (Alertmanager ends the alerts at their `endsAt`).
//!
//! It never blocks or refuses the pipeline: `consume` only offers the batch
//! to a bounded queue (`queue_size` batches); a full queue, or more than
//! `max_groups` open groups, drops the failures and counts them in
//! `otelcol_exporter_enqueue_failed_<items>`. Notifications are posted by
//! their own task with `retry_on_failure` backoff on 5xx, 429 and
//! connection errors (`retry_on_failure` and `timeout` mean what they mean
//! for every exporter; a notification given up counts in `send_failed`).
//! The trace link is `trace_url_template` with `{{trace_id}}`, `{{span_id}}`
//! and `{{service}}` replaced, e.g. Jaeger's
//! `http://localhost:16686/trace/{{trace_id}}`.

mod config;
pub mod groups;
pub mod notify;
#[cfg(test)]
mod tests;

pub use config::{AlertConfig, Format, Target};

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::failure::{self, Severity};
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltExporter, ConsumeError, Consumer, ExporterConfig, Factory,
};
use crate::otlp::data::Decoded;
use crate::runtime::TaskGroup;
use crate::signal::{Batch, Signal};
use crate::telemetry::ExporterMetrics;
use groups::{Failure, GroupKey, Groups, Timing};

pub fn factory() -> Factory<dyn ExporterConfig> {
    Factory {
        type_name: "alert",
        signals: &[Signal::Traces, Signal::Logs],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<AlertConfig>(v)?)),
    }
}

impl ExporterConfig for AlertConfig {
    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let client = crate::exporters::client::http_client(&self.tls, &[b"http/1.1"], &self.headers)?;
        let name = ctx.id.to_string();
        let metrics = ctx.telemetry.exporter(signal, &name);
        let timing = Timing {
            group_wait: self.group_wait.0,
            group_interval: self.group_interval.0,
            repeat_interval: self.repeat_interval.0,
            resolve_timeout: self.resolve_timeout.0,
        };
        let render = notify::Render {
            receiver: name.clone(),
            alert_name: self.alert_name.clone(),
            labels: self.labels.clone(),
            trace_url_template: self.trace_url_template.clone(),
            firing_ttl: self.group_interval.0 + self.resolve_timeout.0,
        };
        let poster = notify::Poster {
            name: name.clone(),
            client,
            url: self.url(),
            retry: self.retry_on_failure.clone(),
            timeout: self.timeout.0,
            metrics: metrics.clone(),
        };
        let groups = Arc::new(Mutex::new(Groups::new(timing, self.max_groups)));
        let (batches_tx, batches_rx) = mpsc::channel::<Batch>(self.queue_size);
        let (notes_tx, notes_rx) = mpsc::channel(64);
        let tick = (timing.group_wait.min(timing.resolve_timeout) / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let ingest = Ingest {
            name: name.clone(),
            groups: groups.clone(),
            min_severity: self.logs.min_severity,
            metrics: metrics.clone(),
        };
        // Shutdown: the queue is taken in, pending failures are notified and
        // the sender posts them (with its retries) until the deadline.
        let running = TaskGroup::new(format!("exporter {name}"));
        let stop = running.shutdown_signal().token();
        let ingest = tokio::spawn(ingest.run(batches_rx, stop.clone()));
        let evaluate = Evaluate { name: name.clone(), groups, tick, tx: notes_tx, metrics: metrics.clone() };
        running.spawn(evaluate.run(stop, ingest));
        running.spawn(send(poster, render, self.target, self.format, notes_rx));
        Ok(BuiltExporter {
            consumer: Arc::new(AlertConsumer { name, queue: batches_tx, metrics }),
            running: Box::new(running),
        })
    }
}

/// Offers batches to the bounded queue; never waits and never refuses.
struct AlertConsumer {
    name: String,
    queue: mpsc::Sender<Batch>,
    metrics: ExporterMetrics,
}

impl Consumer for AlertConsumer {
    fn consume(&self, batch: Batch) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let items = batch.items() as u64;
        if self.queue.try_send(batch).is_err() {
            self.metrics.enqueue_failed.inc_by(items);
            tracing::warn!(exporter = %self.name, items, "alert exporter queue is full; dropping a batch (the pipeline is not slowed)");
        }
        Box::pin(async { Ok(()) })
    }
}

struct Ingest {
    name: String,
    groups: Arc<Mutex<Groups>>,
    min_severity: Severity,
    metrics: ExporterMetrics,
}

impl Ingest {
    /// Groups every queued batch's failures; once `stop` is cancelled, closes
    /// the queue, takes in what was already in it, and ends.
    async fn run(self, mut rx: mpsc::Receiver<Batch>, stop: CancellationToken) {
        loop {
            tokio::select! {
                biased;
                batch = rx.recv() => match batch {
                    Some(batch) => self.take(batch),
                    None => return,
                },
                _ = stop.cancelled() => break,
            }
        }
        rx.close();
        while let Some(batch) = rx.recv().await {
            self.take(batch);
        }
    }

    fn take(&self, batch: Batch) {
        if !failure::scan::may_hold_failures(&batch, false, self.min_severity) {
            return;
        }
        let failures = match batch.decoded() {
            Ok(d) => self.failures(&d),
            Err(e) => {
                tracing::warn!(exporter = %self.name, error = %e, "alert exporter could not decode a batch");
                return;
            }
        };
        let (now, wall) = (Instant::now(), SystemTime::now());
        let mut dropped = 0u64;
        let mut groups = self.groups.lock().expect("lock");
        for f in failures {
            if !groups.add(f, now, wall) {
                dropped += 1;
            }
        }
        drop(groups);
        if dropped > 0 {
            self.metrics.enqueue_failed.inc_by(dropped);
            tracing::warn!(exporter = %self.name, dropped, "alert exporter has max_groups open groups; dropping failures of new groups");
        }
    }

    fn failures(&self, d: &Decoded) -> Vec<Failure> {
        match d {
            Decoded::Traces(rs) => failure::failed_spans(rs, false)
                .into_iter()
                .map(|s| Failure {
                    key: GroupKey {
                        service: s.service_name.clone(),
                        operation: unnamed(&s.span_name),
                        error_type: s.error_type().to_owned(),
                    },
                    message: [&s.exception_message, &s.status_message]
                        .into_iter()
                        .find(|m| !m.is_empty())
                        .cloned()
                        .unwrap_or_default(),
                    trace_id: s.trace_id,
                    span_id: s.span_id,
                })
                .collect(),
            Decoded::Logs(rl) => failure::error_logs(rl, self.min_severity)
                .into_iter()
                .map(|l| Failure {
                    key: GroupKey {
                        service: l.service_name.clone(),
                        operation: l.operation(),
                        error_type: l.error_type(),
                    },
                    message: l.body,
                    trace_id: l.trace_id,
                    span_id: l.span_id,
                })
                .collect(),
            Decoded::Metrics(_) => Vec::new(),
        }
    }
}

/// An empty span name would be an empty label, which Alertmanager reads as
/// no label at all.
fn unnamed(name: &str) -> String {
    if name.is_empty() {
        "(unnamed)".to_owned()
    } else {
        name.to_owned()
    }
}

/// Every `tick`, hands the due notifications to the sender (dropping and
/// counting them if the sender is that far behind).
struct Evaluate {
    name: String,
    groups: Arc<Mutex<Groups>>,
    tick: Duration,
    tx: mpsc::Sender<Vec<groups::Notification>>,
    metrics: ExporterMetrics,
}

impl Evaluate {
    /// Runs until `stop`; then waits for `ingest` to take in its queue and
    /// hands over every failure not yet notified, so a shutdown inside
    /// `group_wait` still reports what was accepted. Dropping `tx` at the
    /// end lets the sender finish.
    async fn run(self, stop: CancellationToken, ingest: JoinHandle<()>) {
        let mut interval = tokio::time::interval(self.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stop.cancelled() => break,
            }
            let due = self.groups.lock().expect("lock").due(Instant::now());
            if due.is_empty() {
                continue;
            }
            let n = due.len() as u64;
            if self.tx.try_send(due).is_err() {
                self.metrics.send_failed.inc_by(n);
                tracing::warn!(exporter = %self.name, notifications = n, "alert sender is behind; dropping notifications");
            }
        }
        let _ = ingest.await;
        let pending = self.groups.lock().expect("lock").pending(Instant::now());
        if !pending.is_empty() {
            let _ = self.tx.send(pending).await;
        }
    }
}

async fn send(
    poster: notify::Poster,
    render: notify::Render,
    target: Target,
    format: Format,
    mut rx: mpsc::Receiver<Vec<groups::Notification>>,
) {
    while let Some(due) = rx.recv().await {
        let now = SystemTime::now();
        match target {
            Target::Alertmanager => poster.post(&render.alertmanager(&due, now), due.len() as u64).await,
            Target::Webhook => {
                for n in &due {
                    let body = match format {
                        Format::Json => render.webhook(n, now),
                        Format::Slack => render.slack(n),
                    };
                    poster.post(&body, 1).await;
                }
            }
        }
    }
}
