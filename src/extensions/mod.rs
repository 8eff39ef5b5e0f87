//! Extensions: components outside the data path (health checks,
//! authenticators, storage). Components reach them through
//! `crate::runtime::Host`, never by importing these modules.

pub mod basicauth;
pub mod bearertokenauth;
pub mod file_storage;
pub mod health_check;
