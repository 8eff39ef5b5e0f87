//! The `zipkin` receiver (otelcol-contrib's `zipkinreceiver`): Zipkin
//! clients POST spans to `/api/v1/spans` (v1 JSON) or `/api/v2/spans` (v2
//! JSON or protobuf); spans are translated to OTLP as upstream's
//! `pkg/translator/zipkin` does and handed to the traces pipelines, and the
//! client gets 202 Accepted once the pipelines took them.
//! `config.rs` holds the settings, `http.rs` serves, `json.rs`/`proto.rs`
//! parse v2, `v1.rs` parses and maps v1, `translate.rs` maps v2 spans
//! (`model.rs`) to OTLP.

mod config;
mod http;
mod json;
mod model;
mod proto;
mod translate;
mod v1;

use futures::future::BoxFuture;

pub use config::ZipkinReceiverConfig;

use crate::component::{parse_section, BuildContext, BuildResult, Factory, ReceiverConfig, Running, SignalConsumers};
use crate::runtime::{ExtensionRef, TaskGroup};
use crate::signal::Signal;

pub fn factory() -> Factory<dyn ReceiverConfig> {
    Factory {
        type_name: "zipkin",
        signals: &[Signal::Traces],
        deprecated: None,
        parse: |v| Ok(Box::new(parse_section::<ZipkinReceiverConfig>(config::lift_protocols(v))?)),
    }
}

impl ReceiverConfig for ZipkinReceiverConfig {
    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).collect()
    }

    fn start(&self, ctx: BuildContext, consumers: SignalConsumers) -> BoxFuture<'_, BuildResult<Box<dyn Running>>> {
        Box::pin(async move {
            let Some(traces) = consumers.traces.clone() else {
                anyhow::bail!("the zipkin receiver takes traces only: list it in a traces pipeline");
            };
            let auth = self.auth.as_ref().map(|a| ctx.host.server_auth(a)).transpose()?;
            let group = TaskGroup::new(format!("receiver {}", ctx.id));
            let stop = group.shutdown_signal().token();
            group.add(http::serve(self, &ctx, traces, auth, stop).await?);
            Ok(Box::new(group) as Box<dyn Running>)
        })
    }
}
