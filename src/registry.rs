//! The one list of every component otelstack-collector knows. Adding a
//! component means writing its module and adding its factory here.

use crate::component::{ConnectorConfig, ExporterConfig, ExtensionConfig, Factory, ProcessorConfig, ReceiverConfig};
use crate::{connectors, exporters, extensions, processors, receivers};

pub struct Registry {
    pub receivers: Vec<Factory<dyn ReceiverConfig>>,
    pub processors: Vec<Factory<dyn ProcessorConfig>>,
    pub exporters: Vec<Factory<dyn ExporterConfig>>,
    pub connectors: Vec<Factory<dyn ConnectorConfig>>,
    pub extensions: Vec<Factory<dyn ExtensionConfig>>,
}

pub fn registry() -> Registry {
    Registry {
        receivers: vec![
            receivers::otlp::factory(),
            receivers::prometheus::factory(),
            receivers::zipkin::factory(),
            receivers::hostmetrics::factory(),
        ],
        processors: vec![
            processors::memory_limiter::factory(),
            processors::batch::factory(),
            processors::resource::factory(),
            processors::attributes::factory(),
        ],
        exporters: vec![
            exporters::otlp_grpc::factory("otlp", None),
            exporters::otlp_grpc::factory("otlp_grpc", None),
            exporters::otlp_http::factory("otlphttp", None),
            exporters::otlp_http::factory("otlp_http", None),
            exporters::loadbalancing::factory(),
            exporters::prometheus::factory(),
            exporters::prometheus_remote_write::factory("prometheusremotewrite"),
            exporters::prometheus_remote_write::factory("prometheus_remote_write"),
            exporters::mysql::factory("mysql"),
            exporters::mysql::factory("mariadb"),
            exporters::alert::factory(),
            exporters::jaeger::factory(),
            exporters::loki::factory(),
            exporters::debug::factory("debug", None),
            exporters::debug::factory(
                "logging",
                Some("the logging exporter was removed from otelcol; it runs as the debug exporter here, rename it to 'debug'"),
            ),
        ],
        connectors: vec![connectors::spanmetrics::factory("spanmetrics"), connectors::spanmetrics::factory("span_metrics")],
        extensions: vec![
            extensions::health_check::factory(),
            extensions::bearertokenauth::factory(),
            extensions::basicauth::factory(),
            extensions::file_storage::factory(),
        ],
    }
}

impl Registry {
    /// `(kind, type, signals, note)` rows for `otelstack-collector components`.
    pub fn describe(&self) -> Vec<(&'static str, &'static str, String, Option<&'static str>)> {
        fn rows<'a, C: ?Sized>(
            kind: &'static str,
            fs: &'a [Factory<C>],
        ) -> impl Iterator<Item = (&'static str, &'static str, String, Option<&'static str>)> + 'a {
            fs.iter().map(move |f| {
                let sigs: Vec<&str> = f.signals.iter().map(|s| s.as_str()).collect();
                (kind, f.type_name, sigs.join(","), f.deprecated)
            })
        }
        rows("receiver", &self.receivers)
            .chain(rows("processor", &self.processors))
            .chain(rows("exporter", &self.exporters))
            .chain(self.connectors.iter().map(|f| {
                // a connector's signals are pairs; its default config knows them
                let pairs = (f.parse)(serde_json::Value::Null)
                    .map(|c| c.pairs().iter().map(|(a, b)| format!("{a}->{b}")).collect::<Vec<_>>().join(","))
                    .unwrap_or_default();
                ("connector", f.type_name, pairs, f.deprecated)
            }))
            .chain(rows("extension", &self.extensions))
            .collect()
    }
}
