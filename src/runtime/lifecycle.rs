//! Stopping components: the [`Running`] handle every started component
//! returns, and [`TaskGroup`], the one implementation of "cancel my
//! background tasks, let them finish until the deadline, then stop what I
//! wrap" that components use instead of writing their own.

use std::sync::{Arc, Mutex, OnceLock};

use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A started component that can be stopped; `shutdown` returns once it has
/// stopped taking work and drained what it holds (bounded by `deadline`).
pub trait Running: Send + Sync {
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, ()>;
}

/// A no-op [`Running`] for components with nothing to stop.
pub struct NothingRunning;

impl Running for NothingRunning {
    fn shutdown(&self, _deadline: Instant) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// What a background task watches: cancelled when its group stops, with the
/// deadline by which it must be done.
#[derive(Clone)]
pub struct Shutdown {
    token: CancellationToken,
    deadline: Arc<OnceLock<Instant>>,
}

impl Shutdown {
    /// Resolves when the group stops, with the shutdown deadline.
    pub async fn requested(&self) -> Instant {
        self.token.cancelled().await;
        self.deadline.get().copied().unwrap_or_else(Instant::now)
    }

    /// The token itself, for APIs that take one (axum's graceful shutdown).
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }
}

/// A component's background tasks, stopped together: the group's
/// [`Shutdown`] is triggered, the awaited tasks get until the deadline (what
/// is left then is aborted and logged), detached tasks are aborted, and then
/// the components it wraps stop, in the order they were added.
pub struct TaskGroup {
    name: String,
    shutdown: Shutdown,
    awaited: Mutex<Vec<JoinHandle<()>>>,
    detached: Mutex<Vec<JoinHandle<()>>>,
    then: Vec<Box<dyn Running>>,
}

impl TaskGroup {
    /// `name` says whose tasks these are in the deadline warning.
    pub fn new(name: impl Into<String>) -> TaskGroup {
        TaskGroup {
            name: name.into(),
            shutdown: Shutdown { token: CancellationToken::new(), deadline: Arc::new(OnceLock::new()) },
            awaited: Mutex::new(Vec::new()),
            detached: Mutex::new(Vec::new()),
            then: Vec::new(),
        }
    }

    /// The signal the group's tasks watch.
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Runs a task that finishes its work once the group stops; shutdown
    /// waits for it until the deadline.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.add(tokio::spawn(task));
    }

    /// Like [`TaskGroup::spawn`] for a task already running.
    pub fn add(&self, task: JoinHandle<()>) {
        self.awaited.lock().expect("lock").push(task);
    }

    /// A task with nothing to finish (a timer, a cleanup loop): aborted at
    /// shutdown once the awaited tasks are done.
    pub fn spawn_detached(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.detached.lock().expect("lock").push(tokio::spawn(task));
    }

    /// Another component to stop after this group's tasks.
    pub fn then(mut self, next: Box<dyn Running>) -> TaskGroup {
        self.then.push(next);
        self
    }
}

impl Running for TaskGroup {
    fn shutdown(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.shutdown.deadline.set(deadline);
            self.shutdown.token.cancel();
            let mut awaited = std::mem::take(&mut *self.awaited.lock().expect("lock"));
            let all = futures::future::join_all(awaited.iter_mut());
            if tokio::time::timeout_at(deadline, all).await.is_err() {
                tracing::warn!(component = %self.name, "work still in progress at the shutdown deadline was stopped");
                awaited.iter().for_each(JoinHandle::abort);
            }
            for task in std::mem::take(&mut *self.detached.lock().expect("lock")) {
                task.abort();
            }
            for next in &self.then {
                next.shutdown(deadline).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn tasks_finish_their_work_then_wrapped_components_stop() {
        let finished = Arc::new(AtomicUsize::new(0));
        let inner = TaskGroup::new("inner");
        let (s, f) = (inner.shutdown_signal(), finished.clone());
        inner.spawn(async move {
            s.requested().await;
            f.fetch_add(10, Ordering::SeqCst);
        });
        let outer = TaskGroup::new("outer").then(Box::new(inner));
        let (s, f) = (outer.shutdown_signal(), finished.clone());
        let deadline = Instant::now() + Duration::from_secs(5);
        outer.spawn(async move {
            assert_eq!(s.requested().await, deadline);
            f.fetch_add(1, Ordering::SeqCst);
        });
        outer.spawn_detached(std::future::pending());
        outer.shutdown(deadline).await;
        assert_eq!(finished.load(Ordering::SeqCst), 11);
    }

    #[tokio::test]
    async fn a_task_that_ignores_the_signal_is_aborted_at_the_deadline() {
        let group = TaskGroup::new("stuck");
        group.spawn(std::future::pending());
        group.shutdown(Instant::now() + Duration::from_millis(20)).await;
        assert!(group.awaited.lock().unwrap().is_empty());
    }
}
