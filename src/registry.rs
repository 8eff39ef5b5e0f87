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
            receivers::filelog::factory(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of components and their options.
    fn component_table() -> &'static str {
        let readme = include_str!("../README.md");
        let start = readme.find("### Components and their options").expect("the README has the component table");
        let table = &readme[start..];
        &table
            [..table.find("\n\n|").and_then(|i| table[i + 2..].find("\n\n").map(|j| i + 2 + j)).unwrap_or(table.len())]
    }

    #[test]
    fn every_registered_component_has_a_row_in_the_readme_table() {
        let table = component_table();
        let headers: Vec<&str> =
            table.lines().filter(|l| l.starts_with("| ")).filter_map(|l| l.split(" | ").next()).collect();
        assert!(headers.len() > 25, "the table was not found whole: {headers:?}");
        let r = registry();
        let kinds = r
            .receivers
            .iter()
            .map(|f| ("receiver", f.type_name))
            .chain(r.processors.iter().map(|f| ("processor", f.type_name)))
            .chain(r.exporters.iter().map(|f| ("exporter", f.type_name)))
            .chain(r.connectors.iter().map(|f| ("connector", f.type_name)))
            .chain(r.extensions.iter().map(|f| ("extension", f.type_name)));
        for (kind, name) in kinds {
            let ticked = format!("`{name}`");
            assert!(
                headers.iter().any(|h| h.contains(kind) && h.contains(&ticked)),
                "README.md's component table has no row for {kind} {ticked}"
            );
        }
    }
}
