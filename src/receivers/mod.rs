//! Receivers: where data enters. Each module is one receiver type with its
//! config, factory and server code.

pub mod filelog;
pub mod hostmetrics;
pub mod http_server;
pub mod otlp;
pub mod prometheus;
pub mod zipkin;
