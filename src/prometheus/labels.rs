//! Labels of a translated series, as otelcol-contrib's
//! `prometheusremotewrite.createAttributes` builds them: attribute values as
//! pdata's `AsString` writes them, keys sanitised (keys that collide after
//! sanitising join their values with `;` in key order), `job` and `instance`
//! from `service.namespace`/`service.name` and `service.instance.id`, then
//! the exporter's own labels where no attribute already set one. The rest of
//! the resource goes to `target_info`, keyed by `job` and `instance`.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use super::names::label_name;
use super::settings::Settings;
use crate::otlp::pdata::as_string;

/// Label name -> value; a `BTreeMap` keeps them sorted, as remote write requires.
pub type Labels = BTreeMap<String, String>;

/// The resource attributes that become `job` and `instance` and are left out of `target_info`.
const IDENTIFYING: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];

/// Labels from attributes; keys that collide after sanitising join their
/// values with `;` in the order of the original keys.
pub fn from_attributes(attrs: &[KeyValue]) -> Labels {
    let mut sorted: Vec<(&str, String)> =
        attrs.iter().map(|kv| (kv.key.as_str(), kv.value.as_ref().map(as_string).unwrap_or_default())).collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Labels::new();
    for (key, value) in sorted {
        let name = label_name(key);
        if name.is_empty() {
            continue;
        }
        match out.get_mut(&name) {
            Some(existing) => {
                existing.push(';');
                existing.push_str(&value);
            }
            None => {
                out.insert(name, value);
            }
        }
    }
    out
}

/// What one resource contributes to the labels of its series and to `target_info`.
#[derive(Debug, Clone, Default)]
pub struct ResourceLabels {
    /// `job` and `instance`, where the resource names its service
    pub identity: Labels,
    /// every resource attribute, merged into each point's attributes when
    /// `resource_to_telemetry_conversion` is on
    attributes: Vec<KeyValue>,
    promote: bool,
    /// the `target_info` labels other than `job` and `instance`
    pub info: Labels,
}

impl ResourceLabels {
    pub fn new(attrs: &[KeyValue], settings: &Settings) -> Self {
        let get = |k: &str| attrs.iter().find(|a| a.key == k).and_then(|a| a.value.as_ref()).map(as_string);
        let mut identity = Labels::new();
        if let Some(name) = get("service.name") {
            let job = match get("service.namespace") {
                Some(ns) => format!("{ns}/{name}"),
                None => name,
            };
            identity.insert("job".into(), job);
        }
        if let Some(instance) = get("service.instance.id") {
            identity.insert("instance".into(), instance);
        }
        let rest: Vec<KeyValue> = attrs.iter().filter(|a| !IDENTIFYING.contains(&a.key.as_str())).cloned().collect();
        ResourceLabels {
            identity,
            attributes: attrs.to_vec(),
            promote: settings.resource_to_telemetry,
            info: from_attributes(&rest),
        }
    }

    /// The labels of a point: its attributes (with the resource's over them
    /// when promoted), `job`/`instance` over those, then `external` labels
    /// (the exporter's `external_labels` or `const_labels`) where nothing set them.
    pub fn series(&self, point: &[KeyValue], external: &Labels) -> Labels {
        let mut labels = if self.promote {
            let mut merged: Vec<KeyValue> =
                point.iter().filter(|p| !self.attributes.iter().any(|r| r.key == p.key)).cloned().collect();
            merged.extend(self.attributes.iter().cloned());
            from_attributes(&merged)
        } else {
            from_attributes(point)
        };
        labels.extend(self.identity.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (k, v) in external {
            labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        labels
    }

    /// The `target_info` labels (`job`, `instance` and the other resource
    /// attributes), or `None` when upstream writes none: the resource has no
    /// attribute besides the identifying ones, or no `job`/`instance` to join on.
    pub fn target_info(&self) -> Option<Labels> {
        if self.info.is_empty() || self.identity.is_empty() {
            return None;
        }
        let mut labels = self.info.clone();
        labels.extend(self.identity.iter().map(|(k, v)| (k.clone(), v.clone())));
        Some(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    use opentelemetry_proto::tonic::common::v1::AnyValue;

    fn kv(k: &str, v: V) -> KeyValue {
        KeyValue { key: k.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    fn s(v: &str) -> V {
        V::StringValue(v.into())
    }

    #[test]
    fn colliding_keys_join_in_key_order_and_empty_keys_drop() {
        let got = from_attributes(&[kv("a_b", s("y")), kv("a.b", s("x")), kv("", s("z")), kv("0x", s("1"))]);
        let want: Labels = [("a_b".into(), "x;y".into()), ("key_0x".into(), "1".into())].into();
        assert_eq!(got, want);
    }

    /// After upstream's `TestCreateAttributes` (prometheusremotewrite/helper_test.go):
    /// job and instance from the service, external labels only where unset.
    #[test]
    fn series_labels_take_identity_then_external_labels_where_unset() {
        let resource = [
            kv("service.name", s("service name")),
            kv("service.instance.id", s("service ID")),
            kv("existent-attr", s("resource value")),
            kv("metric-attr", s("resource value")),
        ];
        let point = [kv("metric-attr", s("metric value")), kv("job", s("point job"))];
        let external: Labels = [("metric_attr".into(), "external".into()), ("cluster".into(), "c1".into())].into();
        let plain = ResourceLabels::new(&resource, &Settings::default()).series(&point, &external);
        let want: Labels =
            [("cluster", "c1"), ("instance", "service ID"), ("job", "service name"), ("metric_attr", "metric value")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into();
        assert_eq!(plain, want);
        let promoted = Settings { resource_to_telemetry: true, ..Settings::default() };
        let got = ResourceLabels::new(&resource, &promoted).series(&point, &Labels::new());
        assert_eq!(got["existent_attr"], "resource value");
        assert_eq!(
            got["metric_attr"], "resource value",
            "the resource's value wins, as resourcetotelemetry copies it over"
        );
        assert_eq!(got["service_name"], "service name");
    }

    /// Upstream's `TestAddResourceTargetInfo` cases: none without other
    /// attributes; job from namespace/name; identifying attributes left out.
    #[test]
    fn target_info_joins_on_job_and_instance() {
        let only_service = [kv("service.name", s("svc"))];
        assert_eq!(ResourceLabels::new(&only_service, &Settings::default()).target_info(), None);
        let full = [
            kv("service.name", s("svc")),
            kv("service.namespace", s("ns")),
            kv("service.instance.id", s("i-1")),
            kv("host.name", s("node")),
        ];
        let got = ResourceLabels::new(&full, &Settings::default()).target_info().unwrap();
        let want: Labels =
            [("host_name", "node"), ("instance", "i-1"), ("job", "ns/svc")].map(|(k, v)| (k.into(), v.into())).into();
        assert_eq!(got, want);
    }
}
