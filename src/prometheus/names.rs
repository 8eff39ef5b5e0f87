//! OpenTelemetry -> Prometheus names, following otelcol-contrib's
//! `pkg/translator/prometheus` (the OTel/Prometheus compatibility spec):
//! names are split into alphanumeric tokens and joined with `_`; the unit's
//! Prometheus word is appended unless the name already has it (`By` ->
//! `bytes`, `m/s` -> `meters_per_second`, `{packets}` dropped); monotonic sums
//! end in `_total`; gauges with unit `1` end in `_ratio`; a leading digit gets
//! `_`. Labels turn every other rune into `_` and get `key_` before a digit
//! or a single leading `_`.

/// What kind of metric a name is built for (the suffix rules depend on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Gauge,
    /// a monotonic sum: a Prometheus counter
    Counter,
    /// non-monotonic sums, histograms and summaries
    Other,
}

fn unit_word(unit: &str) -> &str {
    match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "1" => "",
        "%" => "percent",
        other => other,
    }
}

fn per_unit_word(unit: &str) -> &str {
    match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => other,
    }
}

fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

/// Joins the alphanumeric runs of `s` with `_` (`"hello, world!"` -> `hello_world`).
pub fn clean_up(s: &str) -> String {
    tokens(s).join("_")
}

/// The Prometheus name of a metric. Without `add_suffixes` only forbidden
/// characters are replaced, as otelcol does when `add_metric_suffixes: false`.
pub fn metric_name(name: &str, unit: &str, kind: NameKind, namespace: &str, add_suffixes: bool) -> String {
    if !add_suffixes {
        let plain: Vec<&str> =
            name.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).filter(|t| !t.is_empty()).collect();
        let plain = plain.join("_");
        if !namespace.is_empty() {
            return format!("{namespace}_{plain}");
        }
        return prefix_digit(plain);
    }
    let mut out = tokens(name);
    let mut parts = unit.splitn(2, '/');
    let main = parts.next().unwrap_or("").trim();
    if !main.is_empty() && !main.contains(['{', '}']) {
        let word = clean_up(unit_word(main));
        if !word.is_empty() && !out.contains(&word) {
            out.push(word);
        }
    }
    if let Some(per) = parts.next().map(str::trim).filter(|p| !p.is_empty() && !p.contains(['{', '}'])) {
        let word = clean_up(per_unit_word(per));
        if !word.is_empty() && !out.contains(&word) {
            out.push("per".into());
            out.push(word);
        }
    }
    if kind == NameKind::Counter {
        out.retain(|t| t != "total");
        out.push("total".into());
    }
    if unit == "1" && kind == NameKind::Gauge {
        out.retain(|t| t != "ratio");
        out.push("ratio".into());
    }
    if !namespace.is_empty() {
        out.insert(0, namespace.to_owned());
    }
    prefix_digit(out.join("_"))
}

fn prefix_digit(name: String) -> String {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// A Prometheus label name for an attribute key.
pub fn label_name(key: &str) -> String {
    if key.is_empty() {
        return String::new();
    }
    let label: String = key.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).collect();
    if label.starts_with(|c: char| c.is_ascii_digit()) {
        format!("key_{label}")
    } else if label.starts_with('_') && !label.starts_with("__") {
        format!("key{label}")
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NameKind::{Counter, Gauge};

    /// Cases from the compatibility spec and otelcol-contrib's translator tests.
    const GOLDEN: &[(&str, &str, NameKind, &str)] = &[
        ("system.filesystem.usage", "By", Gauge, "system_filesystem_usage_bytes"),
        ("system.io", "By", Counter, "system_io_bytes_total"),
        ("network_transmitted_bytes_total", "By", Counter, "network_transmitted_bytes_total"),
        ("\t system.filesystem.usage       ", "  By\t", Gauge, "system_filesystem_usage_bytes"),
        ("system.network.dropped", "{packets}", Gauge, "system_network_dropped"),
        ("system.network.dropped", "{packets}", Counter, "system_network_dropped_total"),
        ("system.network.dropped", "packets", Gauge, "system_network_dropped_packets"),
        ("system.network.packets.dropped", "packets", Gauge, "system_network_packets_dropped"),
        ("system.network.packets", "packets", Gauge, "system_network_packets"),
        ("system.network.dropped", "packets", Counter, "system_network_dropped_packets_total"),
        ("system.network.packets", "packets", Counter, "system_network_packets_total"),
        ("hw.gpu.memory.utilization", "1", Gauge, "hw_gpu_memory_utilization_ratio"),
        ("hw.fan.speed_ratio", "1", Gauge, "hw_fan_speed_ratio"),
        ("objects", "1", Counter, "objects_total"),
        ("hw.cpu.speed_limit", "Hz", Gauge, "hw_cpu_speed_limit_hertz"),
        ("broken.metric.speed", "km/h", Gauge, "broken_metric_speed_km_per_hour"),
        ("astro.light.speed_limit", "m/s", Gauge, "astro_light_speed_limit_meters_per_second"),
        ("broken.metric.success_ratio", "%", Gauge, "broken_metric_success_ratio_percent"),
        ("broken.metric.success_percent", "%", Gauge, "broken_metric_success_percent"),
        ("test.metric.no_unit", "", Gauge, "test_metric_no_unit"),
        ("test.metric.spaces", "   \t  ", Gauge, "test_metric_spaces"),
        ("unsupported.metric.temperature", "°F", Gauge, "unsupported_metric_temperature_F"),
        ("unsupported.metric.weird", "+=.:,!* & #", Gauge, "unsupported_metric_weird"),
        ("unsupported.metric.redundant", "__test $/°C", Gauge, "unsupported_metric_redundant_test_per_C"),
        (
            "active_directory.ds.replication.network.io",
            "By",
            Counter,
            "active_directory_ds_replication_network_io_bytes_total",
        ),
        (
            "active_directory.ds.replication.sync.object.pending",
            "{objects}",
            Counter,
            "active_directory_ds_replication_sync_object_pending_total",
        ),
        (
            "active_directory.ds.replication.object.rate",
            "{objects}/s",
            Gauge,
            "active_directory_ds_replication_object_rate_per_second",
        ),
        ("active_directory.ds.name_cache.hit_rate", "%", Gauge, "active_directory_ds_name_cache_hit_rate_percent"),
        (
            "active_directory.ds.ldap.bind.last_successful.time",
            "ms",
            Gauge,
            "active_directory_ds_ldap_bind_last_successful_time_milliseconds",
        ),
        ("apache.current_connections", "connections", Gauge, "apache_current_connections"),
        ("apache.workers", "connections", Gauge, "apache_workers_connections"),
        ("apache.requests", "1", Counter, "apache_requests_total"),
        ("bigip.virtual_server.request.count", "{requests}", Counter, "bigip_virtual_server_request_count_total"),
        ("system.cpu.utilization", "1", Gauge, "system_cpu_utilization_ratio"),
        ("system.disk.operation_time", "s", Counter, "system_disk_operation_time_seconds_total"),
        ("system.cpu.load_average.15m", "1", Gauge, "system_cpu_load_average_15m_ratio"),
        ("memcached.operation_hit_ratio", "%", Gauge, "memcached_operation_hit_ratio_percent"),
        ("mongodbatlas.process.asserts", "{assertions}/s", Gauge, "mongodbatlas_process_asserts_per_second"),
        (
            "mongodbatlas.process.journaling.data_files",
            "MiBy",
            Gauge,
            "mongodbatlas_process_journaling_data_files_mebibytes",
        ),
        ("mongodbatlas.process.network.io", "By/s", Gauge, "mongodbatlas_process_network_io_bytes_per_second"),
        ("mongodbatlas.process.oplog.rate", "GiBy/h", Gauge, "mongodbatlas_process_oplog_rate_gibibytes_per_hour"),
        (
            "mongodbatlas.process.db.query_targeting.scanned_per_returned",
            "{scanned}/{returned}",
            Gauge,
            "mongodbatlas_process_db_query_targeting_scanned_per_returned",
        ),
        ("nginx.requests", "requests", Gauge, "nginx_requests"),
        ("nginx.connections_accepted", "connections", Gauge, "nginx_connections_accepted"),
        ("nsxt.node.memory.usage", "KBy", Gauge, "nsxt_node_memory_usage_kilobytes"),
        ("redis.latest_fork", "us", Gauge, "redis_latest_fork_microseconds"),
        ("http.server.request.duration", "s", NameKind::Other, "http_server_request_duration_seconds"),
        ("traces.span.metrics.duration", "ms", NameKind::Other, "traces_span_metrics_duration_milliseconds"),
        ("traces.span.metrics.calls", "", Counter, "traces_span_metrics_calls_total"),
        ("3.14 digits", "", Gauge, "_3_14_digits"),
        ("envoy__rule_engine_zlib_buf_error", "", Gauge, "envoy_rule_engine_zlib_buf_error"),
        (":foo::bar", "", Gauge, "foo_bar"),
        (":foo::bar", "", Counter, "foo_bar_total"),
    ];

    #[test]
    fn golden_metric_names() {
        for (name, unit, kind, want) in GOLDEN {
            assert_eq!(metric_name(name, unit, *kind, "", true), *want, "{name:?} [{unit:?}] {kind:?}");
        }
    }

    #[test]
    fn namespace_and_no_suffix_mode() {
        assert_eq!(metric_name("network.io", "By", Counter, "system", true), "system_network_io_bytes_total");
        assert_eq!(metric_name("#test", "", Gauge, "space", true), "space_test");
        assert_eq!(metric_name("system.io", "By", Counter, "", false), "system_io");
        assert_eq!(metric_name("network (I/O)", "By", Counter, "system", false), "system_network_I_O");
        assert_eq!(metric_name("3.14 digits", "By", Gauge, "", false), "_3_14_digits");
        assert_eq!(
            metric_name("envoy__rule_engine_zlib_buf_error", "", Gauge, "", false),
            "envoy__rule_engine_zlib_buf_error"
        );
        assert_eq!(metric_name(":foo::bar", "", Counter, "", false), ":foo::bar");
    }

    #[test]
    fn golden_label_names() {
        for (key, want) in [
            ("service.name", "service_name"),
            ("http.status_code", "http_status_code"),
            ("0starts.with.digit", "key_0starts_with_digit"),
            ("_private", "key_private"),
            ("__reserved", "__reserved"),
            ("k8s.pod-name", "k8s_pod_name"),
            ("", ""),
        ] {
            assert_eq!(label_name(key), want, "{key:?}");
        }
    }
}
