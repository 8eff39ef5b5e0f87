//! A global allocator wrapper that counts live heap bytes, so the
//! `memory_limiter` can act on what the collector holds rather than on RSS,
//! which the allocator does not always give back after a burst.
//!
//! The count is kept in per-thread shards folded on read: one global counter
//! updated on every allocation is a cache line that every core writes, and
//! the allocator is called for every request, batch and frame.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

/// Shards of the live-bytes count. More than the threads that allocate at
/// once on the machines this runs on; threads beyond it share shards.
const SHARDS: usize = 32;

/// One counter per cache line, so threads on different shards never write
/// the same line.
#[repr(align(128))]
struct Shard(AtomicIsize);

/// A counter split into shards: each thread adds to its own shard, a read
/// sums them. A shard can go negative (memory freed on another thread than
/// the one that allocated it); the sum is exact once the adds are visible.
pub struct ShardedCounter {
    shards: [Shard; SHARDS],
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // const-initialised and without Drop: no lazy registration, so it is
    // safe to touch from inside the global allocator
    static MY_SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_shard() -> usize {
    MY_SHARD.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            s.set(i);
        }
        i
    })
}

impl ShardedCounter {
    pub const fn new() -> ShardedCounter {
        ShardedCounter { shards: [const { Shard(AtomicIsize::new(0)) }; SHARDS] }
    }

    /// Adds `delta` on the calling thread's shard.
    pub fn add(&self, delta: isize) {
        self.shards[my_shard()].0.fetch_add(delta, Ordering::Relaxed);
    }

    /// The sum over all shards.
    pub fn sum(&self) -> isize {
        self.shards.iter().map(|s| s.0.load(Ordering::Relaxed)).fold(0isize, isize::wrapping_add)
    }
}

impl Default for ShardedCounter {
    fn default() -> Self {
        ShardedCounter::new()
    }
}

static LIVE: ShardedCounter = ShardedCounter::new();
/// Set by the first allocation through [`CountingAlloc`]; read-mostly, so
/// checking it costs no shared write.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

fn mark_active() {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        ACTIVE.store(1, Ordering::Relaxed);
    }
}

/// The system allocator, counting. Installed by the collector binary.
pub struct CountingAlloc;

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.add(layout.size() as isize);
            mark_active();
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator (calloc, which
        // can skip zeroing fresh pages).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.add(layout.size() as isize);
            mark_active();
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.add(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.add(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Settles how glibc's malloc holds memory, before the first thread starts:
/// - at most two arenas: by default every thread that allocates under
///   contention gets its own arena (up to 8 per core), each keeping freed
///   memory for itself, so the batches built on one thread and freed on
///   another (receiver, batcher, exporter, blocking pool) leave many
///   half-empty heaps;
/// - a fixed mmap threshold of 128 KiB: glibc otherwise raises the
///   threshold to the largest block freed (up to 32 MiB), after which every
///   multi-megabyte batch comes from an arena heap and its pages stay
///   resident after it is freed. Fixed, each large buffer is its own
///   mapping and goes back to the system as soon as it is freed.
///
/// Does nothing on other C libraries.
pub fn tune_system_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc parameters; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Live heap bytes, or `None` when the counting allocator is not installed
/// (unit tests, other binaries).
pub fn live_bytes() -> Option<u64> {
    (ACTIVE.load(Ordering::Relaxed) == 1).then(|| LIVE.sum().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn shards_sum_exactly_under_threads_that_free_what_others_allocated() {
        let counter = Arc::new(ShardedCounter::new());
        let threads = 12; // more threads than some shards, fewer than all: both paths
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (c, b) = (counter.clone(), barrier.clone());
                std::thread::spawn(move || {
                    b.wait();
                    for i in 0..10_000isize {
                        c.add(i % 97 + t as isize);
                    }
                    // the "frees" of the next thread's allocations
                    let next = (t + 1) % threads;
                    for i in 0..10_000isize {
                        c.add(-(i % 97 + next as isize));
                    }
                    c.add(1000);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        // every thread's adds were undone by another thread, except 1000 each
        assert_eq!(counter.sum(), 1000 * threads as isize);
    }

    #[test]
    fn more_threads_than_shards_still_sum_exactly() {
        let counter = Arc::new(ShardedCounter::new());
        let handles: Vec<_> = (0..SHARDS * 2 + 3)
            .map(|t| {
                let c = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.add(t as isize + 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let n = (SHARDS * 2 + 3) as isize;
        assert_eq!(counter.sum(), 1000 * n * (n + 1) / 2);
    }

    #[test]
    fn counting_alloc_tracks_alloc_realloc_and_free_across_threads() {
        // the counting allocator is not installed in the test binary, so only
        // the calls below move LIVE
        let alloc = CountingAlloc;
        let before = LIVE.sum();
        let layout = Layout::from_size_align(4096, 8).unwrap();
        // SAFETY: sizes and layouts match between each alloc/realloc/dealloc
        let p = unsafe { alloc.alloc(layout) } as usize;
        assert_eq!(LIVE.sum() - before, 4096);
        assert_eq!(live_bytes().map(|_| ()), Some(()), "marked active after the first allocation");
        let p =
            std::thread::spawn(move || unsafe { alloc_grow(p as *mut u8, layout, 10_000) } as usize).join().unwrap();
        assert_eq!(LIVE.sum() - before, 10_000);
        let z = unsafe { CountingAlloc.alloc_zeroed(layout) };
        assert!(unsafe { std::slice::from_raw_parts(z, 4096) }.iter().all(|b| *b == 0));
        assert_eq!(LIVE.sum() - before, 14_096);
        std::thread::spawn(move || unsafe {
            CountingAlloc.dealloc(p as *mut u8, Layout::from_size_align(10_000, 8).unwrap())
        })
        .join()
        .unwrap();
        unsafe { CountingAlloc.dealloc(z, layout) };
        assert_eq!(LIVE.sum(), before);
    }

    unsafe fn alloc_grow(p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block allocated with `layout`
        unsafe { CountingAlloc.realloc(p, layout, new_size) }
    }
}
