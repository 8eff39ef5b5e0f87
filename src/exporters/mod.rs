//! Exporters: each module is one destination implementing [`helper::Export`];
//! the helper adds the sending queue, retries and timeouts they all share.

pub mod alert;
pub mod client;
pub mod debug;
pub mod failure;
pub mod grpc;
pub mod helper;
pub mod jaeger;
pub mod loadbalancing;
pub mod loki;
pub mod mysql;
pub mod otlp_grpc;
pub mod otlp_http;
pub mod otlp_sender;
pub mod prometheus;
pub mod prometheus_remote_write;
pub mod queue;
