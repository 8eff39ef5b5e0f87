//! The collector's own metrics, named as otelcol names them so existing
//! dashboards work (`otelcol_receiver_accepted_spans_total`, ...), served in
//! Prometheus/OpenMetrics text on `service.telemetry.metrics`.

mod process;
pub mod server;

/// This process's resident memory in bytes.
pub fn rss_bytes() -> Option<u64> {
    process::memory().map(|(rss, _)| rss)
}

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::signal::Signal;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReceiverLabels {
    pub receiver: String,
    pub transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExporterLabels {
    pub exporter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub exporter: String,
    pub data_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProcessorLabels {
    pub processor: String,
}

type PerSignal<T> = [T; 3];

fn idx(signal: Signal) -> usize {
    signal as usize
}

/// Every self metric, registered once at start.
fn per_signal<L>(registry: &mut Registry, stem: &str, help: &str) -> PerSignal<Family<L, Counter>>
where
    L: prometheus_client::encoding::EncodeLabelSet
        + Clone
        + std::hash::Hash
        + Eq
        + Send
        + Sync
        + std::fmt::Debug
        + 'static,
{
    Signal::ALL.map(|s| {
        let fam = Family::default();
        let name = format!("otelcol_{stem}_{}", s.item_noun());
        registry.register(name, format!("{help} {}", s.item_noun().replace('_', " ")), fam.clone());
        fam
    })
}

pub struct Telemetry {
    registry: Registry,
    receiver_accepted: PerSignal<Family<ReceiverLabels, Counter>>,
    receiver_refused: PerSignal<Family<ReceiverLabels, Counter>>,
    exporter_sent: PerSignal<Family<ExporterLabels, Counter>>,
    exporter_send_failed: PerSignal<Family<ExporterLabels, Counter>>,
    exporter_enqueue_failed: PerSignal<Family<ExporterLabels, Counter>>,
    queue_size: Family<QueueLabels, Gauge>,
    queue_capacity: Family<QueueLabels, Gauge>,
    queue_corrupt_records: Family<QueueLabels, Counter>,
    batch_send_size: Family<ProcessorLabels, Histogram, fn() -> Histogram>,
    batch_size_trigger: Family<ProcessorLabels, Counter>,
    batch_timeout_trigger: Family<ProcessorLabels, Counter>,
}

/// Counters a receiver updates for one signal and transport.
#[derive(Clone)]
pub struct ReceiverMetrics {
    pub accepted: Counter,
    pub refused: Counter,
}

/// Counters and gauges an exporter updates for one signal.
#[derive(Clone)]
pub struct ExporterMetrics {
    pub sent: Counter,
    pub send_failed: Counter,
    pub enqueue_failed: Counter,
    pub queue_size: Gauge,
    pub queue_capacity: Gauge,
    /// damaged records a persistent queue skipped
    pub corrupt_records: Counter,
}

#[derive(Clone)]
pub struct BatchMetrics {
    pub send_size: Histogram,
    pub size_trigger: Counter,
    pub timeout_trigger: Counter,
}

fn batch_histogram() -> Histogram {
    Histogram::new([
        10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0,
        8000.0, 9000.0, 10000.0, 20000.0, 30000.0, 50000.0, 100000.0,
    ])
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::default();
        let receiver_accepted =
            per_signal(&mut registry, "receiver_accepted", "Number of items successfully pushed into the pipeline:");
        let receiver_refused = per_signal(
            &mut registry,
            "receiver_refused",
            "Number of items that could not be pushed into the pipeline:",
        );
        let exporter_sent =
            per_signal(&mut registry, "exporter_sent", "Number of items successfully sent to destination:");
        let exporter_send_failed = per_signal(
            &mut registry,
            "exporter_send_failed",
            "Number of items in failed attempts to send to destination:",
        );
        let exporter_enqueue_failed = per_signal(
            &mut registry,
            "exporter_enqueue_failed",
            "Number of items failed to be added to the sending queue:",
        );
        let queue_size = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "otelcol_exporter_queue_size",
            "Current size of the retry queue (in batches)",
            queue_size.clone(),
        );
        let queue_capacity = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "otelcol_exporter_queue_capacity",
            "Fixed capacity of the retry queue (in batches)",
            queue_capacity.clone(),
        );
        let queue_corrupt_records = Family::<QueueLabels, Counter>::default();
        registry.register(
            "otelstack_exporter_queue_corrupt_records",
            "Damaged records skipped (and lost) by a persistent sending queue",
            queue_corrupt_records.clone(),
        );
        let batch_send_size =
            Family::<ProcessorLabels, Histogram, fn() -> Histogram>::new_with_constructor(batch_histogram);
        registry.register(
            "otelcol_processor_batch_batch_send_size",
            "Number of units in the batch",
            batch_send_size.clone(),
        );
        let batch_size_trigger = Family::<ProcessorLabels, Counter>::default();
        registry.register(
            "otelcol_processor_batch_batch_size_trigger_send",
            "Number of times the batch was sent due to a size trigger",
            batch_size_trigger.clone(),
        );
        let batch_timeout_trigger = Family::<ProcessorLabels, Counter>::default();
        registry.register(
            "otelcol_processor_batch_timeout_trigger_send",
            "Number of times the batch was sent due to a timeout trigger",
            batch_timeout_trigger.clone(),
        );
        registry.register_collector(Box::new(process::ProcessCollector::new()));
        Telemetry {
            registry,
            receiver_accepted,
            receiver_refused,
            exporter_sent,
            exporter_send_failed,
            exporter_enqueue_failed,
            queue_size,
            queue_capacity,
            queue_corrupt_records,
            batch_send_size,
            batch_size_trigger,
            batch_timeout_trigger,
        }
    }

    pub fn receiver(&self, signal: Signal, receiver: &str, transport: &str) -> ReceiverMetrics {
        let labels = ReceiverLabels { receiver: receiver.to_owned(), transport: transport.to_owned() };
        ReceiverMetrics {
            accepted: self.receiver_accepted[idx(signal)].get_or_create(&labels).clone(),
            refused: self.receiver_refused[idx(signal)].get_or_create(&labels).clone(),
        }
    }

    pub fn exporter(&self, signal: Signal, exporter: &str) -> ExporterMetrics {
        let labels = ExporterLabels { exporter: exporter.to_owned() };
        let q = QueueLabels { exporter: exporter.to_owned(), data_type: signal.as_str().to_owned() };
        ExporterMetrics {
            sent: self.exporter_sent[idx(signal)].get_or_create(&labels).clone(),
            send_failed: self.exporter_send_failed[idx(signal)].get_or_create(&labels).clone(),
            enqueue_failed: self.exporter_enqueue_failed[idx(signal)].get_or_create(&labels).clone(),
            queue_size: self.queue_size.get_or_create(&q).clone(),
            queue_capacity: self.queue_capacity.get_or_create(&q).clone(),
            corrupt_records: self.queue_corrupt_records.get_or_create(&q).clone(),
        }
    }

    pub fn batch(&self, processor: &str) -> BatchMetrics {
        let labels = ProcessorLabels { processor: processor.to_owned() };
        BatchMetrics {
            send_size: self.batch_send_size.get_or_create(&labels).clone(),
            size_trigger: self.batch_size_trigger.get_or_create(&labels).clone(),
            timeout_trigger: self.batch_timeout_trigger.get_or_create(&labels).clone(),
        }
    }

    /// The exposition text (OpenMetrics, readable by Prometheus).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}
