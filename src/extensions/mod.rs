//! Extensions: components outside the data path (health checks, authenticators).

pub mod auth;
pub mod basicauth;
pub mod bearertokenauth;
pub mod file_storage;
pub mod health_check;
