//! The `resource` processor: attribute actions on each resource.

use std::sync::Arc;

use serde::Deserialize;

use super::actions::{self, ActionConfig};
use super::Transform;
use crate::component::{
    parse_section, BuildContext, BuildResult, BuiltProcessor, Consumer, Factory, Invalid, ProcessorConfig, Validate,
};
use crate::signal::Signal;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceConfig {
    #[serde(deserialize_with = "crate::config::types::null_default")]
    pub attributes: Vec<ActionConfig>,
}

pub fn factory() -> Factory<dyn ProcessorConfig> {
    Factory {
        type_name: "resource",
        signals: &Signal::ALL,
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<ResourceConfig>(v)?)),
    }
}

impl ProcessorConfig for ResourceConfig {
    fn build(&self, _ctx: BuildContext, _signal: Signal, next: Arc<dyn Consumer>) -> BuildResult<BuiltProcessor> {
        let actions = compile_all(&self.attributes, "attributes")?;
        let transform = Transform::new(
            move |d: &mut crate::otlp::data::Decoded| {
                d.for_each_resource(&mut |r| actions.iter().for_each(|a| a.apply(&mut r.attributes)))
            },
            next,
        );
        Ok(BuiltProcessor { consumer: Arc::new(transform), running: None })
    }
}

/// Compiles a validated list of actions.
pub fn compile_all(list: &[ActionConfig], field: &str) -> BuildResult<Vec<actions::Action>> {
    list.iter().enumerate().map(|(i, a)| actions::compile(a).map_err(|e| anyhow::anyhow!("{field}.{i}: {e}"))).collect()
}

impl Validate for ResourceConfig {
    fn validate(&self) -> Result<(), Invalid> {
        validate_actions(&self.attributes, "attributes")
    }
}

/// Every action must compile; the error names the failing entry.
pub fn validate_actions(list: &[ActionConfig], field: &str) -> Result<(), Invalid> {
    if list.is_empty() {
        return Err(Invalid::at(field, "at least one action is required"));
    }
    for (i, a) in list.iter().enumerate() {
        actions::compile(a).map_err(|e| Invalid::at(format!("{field}.{i}"), e))?;
    }
    Ok(())
}
