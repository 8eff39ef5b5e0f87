//! Extensions: components outside the data path (health checks for now).

pub mod health_check;
