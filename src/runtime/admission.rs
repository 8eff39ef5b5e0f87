//! Caps the request bytes receivers hold at once, so a burst of large
//! requests cannot outrun the `memory_limiter`'s periodic check. The budget
//! is the limiter's spike allowance (`limit - soft limit`); without a
//! limiter there is no cap. A request that does not fit is refused at once
//! with a retryable error, before its body is read when its size is known.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::consume::ConsumeError;

const UNIT: u64 = 1024;

#[derive(Clone, Default)]
pub struct Admission {
    budget: Option<Arc<Semaphore>>,
}

/// Held while a request's bytes are in flight.
pub struct Admitted(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl Admission {
    pub fn new(budget_bytes: Option<u64>) -> Admission {
        let permits =
            |b: u64| usize::try_from(b.div_ceil(UNIT).max(1)).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
        Admission { budget: budget_bytes.map(|b| Arc::new(Semaphore::new(permits(b)))) }
    }

    pub fn admit(&self, bytes: usize) -> Result<Admitted, ConsumeError> {
        let Some(sem) = &self.budget else { return Ok(Admitted(None)) };
        let units = u32::try_from((bytes as u64).div_ceil(UNIT)).unwrap_or(u32::MAX);
        sem.clone().try_acquire_many_owned(units).map(|p| Admitted(Some(p))).map_err(|_| ConsumeError::Refused {
            reason: "too many request bytes in flight for the memory_limiter's spike allowance".into(),
            retry_after: Some(Duration::from_secs(1)),
        })
    }

    /// Swaps the charge for a request's wire body for the charge for its
    /// decoded form, once the body is gone: an uncompressed protobuf batch
    /// shares the body's bytes, so charging both would count them twice.
    pub fn readmit(&self, wire: Admitted, decoded_bytes: usize) -> Result<Admitted, ConsumeError> {
        drop(wire);
        self.admit(decoded_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_within_the_budget_and_releases_on_drop() {
        let a = Admission::new(Some(10 * 1024));
        let first = a.admit(6 * 1024).unwrap();
        assert!(a.admit(6 * 1024).is_err(), "12 KiB do not fit in 10");
        drop(first);
        assert!(a.admit(6 * 1024).is_ok());
        assert!(Admission::new(None).admit(usize::MAX).is_ok(), "no limiter, no cap");
    }

    #[test]
    fn readmit_releases_the_wire_charge_before_charging_the_decoded_form() {
        let a = Admission::new(Some(10 * 1024));
        let wire = a.admit(6 * 1024).unwrap();
        let decoded = a.readmit(wire, 8 * 1024).expect("6 KiB released before 8 KiB are charged");
        assert!(a.admit(4 * 1024).is_err(), "the decoded 8 KiB stay charged");
        drop(decoded);
        assert!(a.admit(10 * 1024).is_ok(), "everything released");
    }
}
