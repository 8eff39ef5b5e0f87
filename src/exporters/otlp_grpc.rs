//! The `otlp` exporter (also `otlp_grpc`): OTLP over gRPC. Sends the batch's
//! encoded bytes as they are (no re-encode), gzip (fast level) by default. The channel
//! connects lazily, so the exporter starts even when its endpoint does not
//! resolve yet, and reconnects on its own. The settings and the sending
//! live in [`super::otlp_sender`], shared with `loadbalancing`.

use super::helper;
use super::otlp_sender::OtlpGrpcConfig;
use crate::component::{parse_section, BuildContext, BuildResult, BuiltExporter, ExporterConfig, Factory};
use crate::runtime::ExtensionRef;
use crate::signal::Signal;

pub fn factory(type_name: &'static str, deprecated: Option<&'static str>) -> Factory<dyn ExporterConfig> {
    Factory {
        type_name,
        signals: &Signal::ALL,
        deprecated,
        parse: |v| Ok(Box::new(parse_section::<OtlpGrpcConfig>(v)?)),
    }
}

impl ExporterConfig for OtlpGrpcConfig {
    fn has_sending_queue(&self) -> bool {
        true
    }

    fn extension_refs(&self) -> Vec<ExtensionRef> {
        self.auth.iter().map(|a| a.reference("auth")).chain(self.sending_queue.storage_ref()).collect()
    }

    fn build(&self, ctx: BuildContext, signal: Signal) -> BuildResult<BuiltExporter> {
        let export = self.export(signal, &ctx.host)?;
        helper::build_for(&ctx, signal, Box::new(export), self.helper_settings())
    }
}
