//! Receivers: where data enters. Each module is one receiver type with its
//! config, factory and server code.

pub mod admission;
pub mod hostmetrics;
pub mod otlp;
pub mod prometheus;
