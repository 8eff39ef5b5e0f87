//! Whether the collector is serving: set by the service, read by the
//! `health_check` extension.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Health {
    ready: Arc<AtomicBool>,
    started: std::time::Instant,
}

impl Health {
    pub fn new() -> Health {
        Health { ready: Arc::new(AtomicBool::new(false)), started: std::time::Instant::now() }
    }
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}
