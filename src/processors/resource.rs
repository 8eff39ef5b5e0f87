//! The `resource` processor: attribute actions on each resource.

use std::sync::Arc;

use serde::Deserialize;

use super::actions::{compile_all, validate_actions, ActionConfig};
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

impl Validate for ResourceConfig {
    fn validate(&self) -> Result<(), Invalid> {
        validate_actions(&self.attributes, "attributes")
    }
}
