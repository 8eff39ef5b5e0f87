//! The alert exporter's grouping state: failures keyed by service +
//! operation + error type, with Alertmanager's timing rules. A group's
//! first notification waits `group_wait` (so a storm becomes one
//! notification with a count); failures that join an already notified
//! group are reported at most once per `group_interval`; a group that keeps
//! firing with nothing new is repeated after `repeat_interval`; a group
//! quiet for `resolve_timeout` gets a resolved notice and is forgotten.
//! Pure state (time is passed in), bounded by `max_groups`.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub service: String,
    pub operation: String,
    pub error_type: String,
}

/// One failure as the alert exporter sees it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub key: GroupKey,
    pub message: String,
    pub trace_id: String,
    pub span_id: String,
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub resolve_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// What a target is told about one group.
#[derive(Debug, Clone)]
pub struct Notification {
    pub status: Status,
    pub key: GroupKey,
    /// failures in the group since it started
    pub count: u64,
    /// failures since the previous notification of this group
    pub new: u64,
    pub starts_at: SystemTime,
    pub last_seen: SystemTime,
    /// the latest failure's message and ids
    pub message: String,
    pub trace_id: String,
    pub span_id: String,
}

struct Group {
    count: u64,
    notified_count: u64,
    starts_at: SystemTime,
    last_seen: SystemTime,
    created: Instant,
    last_failure: Instant,
    last_notified: Option<Instant>,
    last: Failure,
}

pub struct Groups {
    timing: Timing,
    max_groups: usize,
    groups: HashMap<GroupKey, Group>,
}

impl Groups {
    pub fn new(timing: Timing, max_groups: usize) -> Groups {
        Groups { timing, max_groups, groups: HashMap::new() }
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Adds a failure; `false` when it would start a new group and
    /// `max_groups` are already open (the caller drops and counts it).
    pub fn add(&mut self, f: Failure, now: Instant, wall: SystemTime) -> bool {
        if let Some(g) = self.groups.get_mut(&f.key) {
            g.count += 1;
            g.last_seen = wall;
            g.last_failure = now;
            g.last = f;
            return true;
        }
        if self.groups.len() >= self.max_groups {
            return false;
        }
        let group = Group {
            count: 1,
            notified_count: 0,
            starts_at: wall,
            last_seen: wall,
            created: now,
            last_failure: now,
            last_notified: None,
            last: f,
        };
        self.groups.insert(group.last.key.clone(), group);
        true
    }

    /// The notifications due at `now`, in key order; resolved groups are
    /// removed.
    pub fn due(&mut self, now: Instant) -> Vec<Notification> {
        let t = self.timing;
        let mut out = Vec::new();
        let mut resolved = Vec::new();
        for (key, g) in &mut self.groups {
            let status = match g.last_notified {
                None if now >= g.created + t.group_wait => Some(Status::Firing),
                None => None,
                Some(_) if now >= g.last_failure + t.resolve_timeout => Some(Status::Resolved),
                Some(last) if g.count > g.notified_count && now >= last + t.group_interval => Some(Status::Firing),
                Some(last) if now >= last + t.repeat_interval => Some(Status::Firing),
                Some(_) => None,
            };
            let Some(status) = status else { continue };
            out.push(g.notify(key, status, now));
            if status == Status::Resolved {
                resolved.push(key.clone());
            }
        }
        for key in resolved {
            self.groups.remove(&key);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// At shutdown: a firing notification for every group with failures not
    /// yet notified, whatever its timers say, so nothing accepted goes
    /// unreported. Groups already notified are left to expire at the
    /// target (Alertmanager's `endsAt`).
    pub fn pending(&mut self, now: Instant) -> Vec<Notification> {
        let mut out: Vec<Notification> = (self.groups.iter_mut())
            .filter(|(_, g)| g.count > g.notified_count)
            .map(|(key, g)| g.notify(key, Status::Firing, now))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl Group {
    /// The notification of this group's state; marks it notified at `now`.
    fn notify(&mut self, key: &GroupKey, status: Status, now: Instant) -> Notification {
        let n = Notification {
            status,
            key: key.clone(),
            count: self.count,
            new: self.count - self.notified_count,
            starts_at: self.starts_at,
            last_seen: self.last_seen,
            message: self.last.message.clone(),
            trace_id: self.last.trace_id.clone(),
            span_id: self.last.span_id.clone(),
        };
        self.last_notified = Some(now);
        self.notified_count = self.count;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn failure(op: &str) -> Failure {
        Failure {
            key: GroupKey { service: "checkout".into(), operation: op.into(), error_type: "ValueError".into() },
            message: "bad card".into(),
            trace_id: "ab".repeat(16),
            span_id: "cd".repeat(8),
        }
    }

    fn timing() -> Timing {
        Timing { group_wait: 2 * S, group_interval: 10 * S, repeat_interval: 60 * S, resolve_timeout: 30 * S }
    }

    #[test]
    fn a_storm_is_one_notification_then_updates_per_group_interval_then_resolved() {
        let mut g = Groups::new(timing(), 10);
        let t0 = Instant::now();
        let wall = SystemTime::now();
        for _ in 0..50 {
            assert!(g.add(failure("pay"), t0, wall));
        }
        assert!(g.due(t0 + S).is_empty(), "group_wait not over");
        let n = g.due(t0 + 2 * S);
        assert_eq!((n.len(), n[0].status, n[0].count, n[0].new), (1, Status::Firing, 50, 50));
        g.add(failure("pay"), t0 + 3 * S, wall);
        assert!(g.due(t0 + 5 * S).is_empty(), "group_interval not over");
        let n = g.due(t0 + 12 * S);
        assert_eq!((n[0].count, n[0].new), (51, 1));
        assert!(g.due(t0 + 20 * S).is_empty(), "nothing new, repeat_interval not over");
        let n = g.due(t0 + 33 * S);
        assert_eq!((n[0].status, n[0].count, n[0].new), (Status::Resolved, 51, 0));
        assert!(g.is_empty());
    }

    #[test]
    fn repeats_after_repeat_interval_while_failing() {
        let t = Timing { resolve_timeout: 1000 * S, ..timing() };
        let mut g = Groups::new(t, 10);
        let t0 = Instant::now();
        g.add(failure("pay"), t0, SystemTime::now());
        assert_eq!(g.due(t0 + 2 * S).len(), 1);
        assert!(g.due(t0 + 61 * S).is_empty());
        assert_eq!(g.due(t0 + 62 * S)[0].new, 0);
    }

    #[test]
    fn groups_are_bounded_and_separate() {
        let mut g = Groups::new(timing(), 2);
        let t0 = Instant::now();
        let wall = SystemTime::now();
        assert!(g.add(failure("a"), t0, wall));
        assert!(g.add(failure("b"), t0, wall));
        assert!(!g.add(failure("c"), t0, wall), "third group refused");
        assert!(g.add(failure("a"), t0, wall), "existing groups still count");
        let ops: Vec<String> = g.due(t0 + 2 * S).into_iter().map(|n| n.key.operation).collect();
        assert_eq!(ops, ["a", "b"]);
    }

    #[test]
    fn pending_reports_unnotified_failures_once_whatever_the_timers_say() {
        let mut g = Groups::new(timing(), 10);
        let t0 = Instant::now();
        let wall = SystemTime::now();
        g.add(failure("a"), t0, wall);
        assert_eq!(g.due(t0 + 2 * S).len(), 1, "a notified");
        g.add(failure("b"), t0 + 3 * S, wall);
        g.add(failure("b"), t0 + 3 * S, wall);
        // b is inside group_wait, a has nothing new
        let n = g.pending(t0 + 3 * S);
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].key.operation.as_str(), n[0].status, n[0].count, n[0].new), ("b", Status::Firing, 2, 2));
        g.add(failure("a"), t0 + 4 * S, wall);
        let n = g.pending(t0 + 4 * S);
        assert_eq!((n.len(), n[0].key.operation.as_str(), n[0].count, n[0].new), (1, "a", 2, 1));
        assert!(g.pending(t0 + 4 * S).is_empty(), "each failure is reported once");
    }
}
