//! The `attributes` processor: attribute actions on every span, metric data
//! point and log record.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::actions::{compile_all, validate_actions, ActionConfig};
use super::Transform;
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltProcessor, Consumer, Factory, Invalid, ProcessorConfig, Validate,
};
use crate::signal::Signal;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttributesConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub actions: Vec<ActionConfig>,
    /// include/exclude filters are parsed so validation can name them as unsupported
    pub include: Option<Value>,
    pub exclude: Option<Value>,
}

pub fn factory() -> Factory<dyn ProcessorConfig> {
    Factory {
        type_name: "attributes",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<AttributesConfig>(v)?)),
    }
}

impl ProcessorConfig for AttributesConfig {
    fn build(&self, _ctx: BuildContext, _signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor> {
        let actions = compile_all(&self.actions, "actions")?;
        let transform = Transform::new(
            move |d: &mut crate::otlp::data::Decoded| {
                d.for_each_item_attributes(&mut |attrs| actions.iter().for_each(|a| a.apply(attrs)))
            },
            next,
        );
        Ok(BuiltProcessor { consumer: Arc::new(transform), running: None })
    }
}

impl Validate for AttributesConfig {
    fn validate(&self) -> Result<(), Invalid> {
        if self.include.is_some() || self.exclude.is_some() {
            let key = if self.include.is_some() { "include" } else { "exclude" };
            return Err(Invalid::at(
                key,
                "include/exclude filters are not supported; remove them to apply the actions to every item",
            ));
        }
        validate_actions(&self.actions, "actions")
    }
}
