//! The `spanmetrics` connector's settings, with otelcol-contrib's names and
//! defaults (connector/spanmetricsconnector config.go and factory.go).

use serde::Deserialize;

use crate::component::{Invalid, Validate};
use crate::config::types::GoDuration;

/// otelcol-contrib's default explicit buckets, in milliseconds.
pub const DEFAULT_BUCKETS_MS: [f64; 16] =
    [2.0, 4.0, 6.0, 8.0, 10.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1000.0, 1400.0, 2000.0, 5000.0, 10_000.0, 15_000.0];
pub const DEFAULT_NAMESPACE: &str = "traces.span.metrics";
/// upstream's `structure.DefaultMaxSize` for exponential histograms
pub const DEFAULT_EXPONENTIAL_MAX_SIZE: i32 = 160;
pub const DEFAULT_MAX_EXEMPLARS: usize = 5;
pub const DELTA: &str = "AGGREGATION_TEMPORALITY_DELTA";
pub const CUMULATIVE: &str = "AGGREGATION_TEMPORALITY_CUMULATIVE";
/// dimensions every series has; configured dimensions may not repeat them
pub const BUILTIN_DIMENSIONS: [&str; 4] = ["service.name", "span.name", "span.kind", "status.code"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpanMetricsConfig {
    pub namespace: String,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub histogram: HistogramConfig,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub dimensions: Vec<Dimension>,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub exclude_dimensions: Vec<String>,
    /// deprecated upstream in favour of `aggregation_cardinality_limit`;
    /// accepted, and must be positive when set
    pub dimensions_cache_size: Option<i64>,
    /// resources (services) kept at once; the least recently seen goes first
    pub resource_metrics_cache_size: usize,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub resource_metrics_key_attributes: Vec<String>,
    pub aggregation_temporality: String,
    pub metrics_flush_interval: GoDuration,
    /// 0 = series never expire
    pub metrics_expiration: GoDuration,
    /// accepted for compatibility (delta start times are kept per series here)
    pub metric_timestamp_cache_size: Option<i64>,
    /// the newer place of `metric_timestamp_cache_size`, checked the same way
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub delta_temporality: DeltaTemporality,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub exemplars: ExemplarsConfig,
    /// 0 = no limit; above it new series go to one overflow series per resource
    pub aggregation_cardinality_limit: i64,
    /// copy every resource attribute onto the metrics' resource (otherwise
    /// only `service.name`), the pre-0.130 behaviour
    pub add_resource_attributes: bool,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub events: EventsConfig,
}

impl Default for SpanMetricsConfig {
    fn default() -> Self {
        SpanMetricsConfig {
            namespace: DEFAULT_NAMESPACE.into(),
            histogram: HistogramConfig::default(),
            dimensions: Vec::new(),
            exclude_dimensions: Vec::new(),
            dimensions_cache_size: None,
            resource_metrics_cache_size: 1000,
            resource_metrics_key_attributes: Vec::new(),
            aggregation_temporality: CUMULATIVE.into(),
            metrics_flush_interval: GoDuration::secs(60),
            metrics_expiration: GoDuration::default(),
            metric_timestamp_cache_size: None,
            delta_temporality: DeltaTemporality::default(),
            exemplars: ExemplarsConfig::default(),
            aggregation_cardinality_limit: 0,
            add_resource_attributes: false,
            events: EventsConfig::default(),
        }
    }
}

/// `delta_temporality:` (otelcol-contrib 0.1xx moved the cache size here).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeltaTemporality {
    pub metric_timestamp_cache_size: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    pub name: String,
    #[serde(default)]
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Unit {
    #[default]
    #[serde(rename = "ms")]
    Milliseconds,
    #[serde(rename = "s")]
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Milliseconds => "ms",
            Unit::Seconds => "s",
        }
    }
    pub fn nanos(self) -> f64 {
        match self {
            Unit::Milliseconds => 1e6,
            Unit::Seconds => 1e9,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistogramConfig {
    pub disable: bool,
    pub unit: Unit,
    pub explicit: Option<ExplicitConfig>,
    pub exponential: Option<ExponentialConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExplicitConfig {
    pub buckets: Option<Vec<GoDuration>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExponentialConfig {
    pub max_size: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemplarsConfig {
    pub enabled: bool,
    pub max_per_data_point: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub dimensions: Vec<Dimension>,
}

impl SpanMetricsConfig {
    pub fn is_delta(&self) -> bool {
        self.aggregation_temporality == DELTA
    }

    /// Explicit bucket bounds in the histogram's unit.
    pub fn bounds(&self) -> Vec<f64> {
        let unit = self.histogram.unit;
        match self.histogram.explicit.as_ref().and_then(|e| e.buckets.as_ref()) {
            Some(b) => b.iter().map(|d| d.0.as_nanos() as f64 / unit.nanos()).collect(),
            None => DEFAULT_BUCKETS_MS.iter().map(|ms| ms * 1e6 / unit.nanos()).collect(),
        }
    }

    pub fn exponential_max_size(&self) -> Option<usize> {
        self.histogram.exponential.as_ref().map(|e| {
            if e.max_size > 0 {
                e.max_size as usize
            } else {
                DEFAULT_EXPONENTIAL_MAX_SIZE as usize
            }
        })
    }

    pub fn max_exemplars(&self) -> usize {
        self.exemplars.max_per_data_point.map_or(DEFAULT_MAX_EXEMPLARS, |n| n.max(0) as usize)
    }
}

impl Validate for SpanMetricsConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let mut seen: Vec<&str> = BUILTIN_DIMENSIONS.to_vec();
        for (i, d) in self.dimensions.iter().enumerate() {
            if d.name.is_empty() {
                return Err(Invalid::at(format!("dimensions.{i}.name"), "is empty; name a span or resource attribute"));
            }
            if seen.contains(&d.name.as_str()) {
                return Err(Invalid::at(
                    format!("dimensions.{i}.name"),
                    format!("duplicate dimension name {:?}; each dimension (and the built-in service.name, span.name, span.kind, status.code) may appear once", d.name),
                ));
            }
            seen.push(&d.name);
        }
        if self.histogram.explicit.is_some() && self.histogram.exponential.is_some() {
            return Err(Invalid::at("histogram", "use either `explicit` or `exponential` buckets histogram, not both"));
        }
        if let Some(b) = self.histogram.explicit.as_ref().and_then(|e| e.buckets.as_ref()) {
            if b.windows(2).any(|w| w[0] >= w[1]) {
                return Err(Invalid::at(
                    "histogram.explicit.buckets",
                    "must be in increasing order, like [2ms, 10ms, 100ms]",
                ));
            }
        }
        if self.histogram.exponential.as_ref().is_some_and(|e| e.max_size < 0) {
            return Err(Invalid::at("histogram.exponential.max_size", "must be positive"));
        }
        if ![DELTA, CUMULATIVE].contains(&self.aggregation_temporality.as_str()) {
            return Err(Invalid::at(
                "aggregation_temporality",
                format!("must be {CUMULATIVE} or {DELTA}, not {:?}", self.aggregation_temporality),
            ));
        }
        if self.metrics_flush_interval.is_zero() {
            return Err(Invalid::at("metrics_flush_interval", "must be greater than zero, like \"15s\""));
        }
        if self.dimensions_cache_size.is_some_and(|n| n <= 0) {
            return Err(Invalid::at(
                "dimensions_cache_size",
                "the maximum number of items in the cache should be positive",
            ));
        }
        for (key, size) in [
            ("metric_timestamp_cache_size", self.metric_timestamp_cache_size),
            ("delta_temporality.metric_timestamp_cache_size", self.delta_temporality.metric_timestamp_cache_size),
        ] {
            if size.is_some_and(|n| n <= 0) {
                return Err(Invalid::at(key, "the maximum number of items in the cache should be positive"));
            }
        }
        if self.resource_metrics_cache_size == 0 {
            return Err(Invalid::at("resource_metrics_cache_size", "must be positive"));
        }
        if self.aggregation_cardinality_limit < 0 {
            return Err(Invalid::at("aggregation_cardinality_limit", "the limit should be positive (0 = no limit)"));
        }
        if self.exemplars.max_per_data_point.is_some_and(|n| n < 0) {
            return Err(Invalid::at("exemplars.max_per_data_point", "must be positive"));
        }
        if self.events.enabled {
            return Err(Invalid::at(
                "events.enabled",
                "the events metric is not supported yet; remove events to get calls and duration",
            ));
        }
        Ok(())
    }
}
