//! The crate's one way to sleep until shared memory changes: a futex on a
//! 32-bit word in `MAP_SHARED` memory (futex(2)), shared between processes
//! (no `FUTEX_PRIVATE_FLAG`), with an absolute `CLOCK_MONOTONIC` deadline
//! (`FUTEX_WAIT_BITSET`), the clock `Instant` reads.
//!
//! A [`Notifier`] is a change counter and a count of sleepers. A waiter
//! reads the counter, checks its condition, and sleeps only if the counter
//! still holds what it read; a notifier changes the state, and only if
//! someone sleeps, bumps the counter and makes the system call. No wake-up
//! is lost: a change made after the waiter read the counter makes its sleep
//! return at once. A process killed while it sleeps holds nothing (it only
//! leaves the sleeper count one too high for good, which costs a wake-up
//! call per change, never a missed one).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// How long a waiter spins before it sleeps: about what a wake-up costs.
/// On one CPU the spin is wasted, but bounded.
const SPIN: std::time::Duration = std::time::Duration::from_micros(20);

/// How many turns of the spin between two yields.
const YIELD_EVERY: u32 = 32;

/// How many turns of the spin between two reads of the clock.
const CLOCK_EVERY: u32 = 8;

/// A change counter that processes sleep on. Lives in shared memory; all
/// zeroes is a valid, fresh one.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    changes: AtomicU32,
    sleepers: AtomicU32,
}

impl Notifier {
    /// Waits until `ready()` is true, or until `deadline` (`None`: no
    /// deadline). Returns whether `ready()` held. `ready` is checked after
    /// every change this notifier is told of, and once at the deadline.
    pub(crate) fn wait_until(
        &self,
        deadline: Option<Instant>,
        mut ready: impl FnMut() -> bool,
    ) -> bool {
        // Most calls find the condition already true (room in the queue, an
        // item waiting): answer those without reading the clock.
        if ready() {
            return true;
        }
        // A short spin first: the other side is often running on another
        // CPU and about to make the change, and a sleep and a wake-up cost
        // two system calls and a cross-CPU interrupt (tens of µs on a VM).
        // (A deadline already past, as `get_nowait` gives, asks once.)
        // Every so often the spin yields: if the other side is waiting for
        // this very CPU, a pure spin would burn its turn for nothing. The
        // clock is read every few turns only: on a VM a read costs about as
        // much as a turn.
        let spin_until = deadline.map_or(Instant::now() + SPIN, |d| d.min(Instant::now() + SPIN));
        let mut spins = 0u32;
        loop {
            if spins.is_multiple_of(CLOCK_EVERY) && Instant::now() >= spin_until {
                break;
            }
            if ready() {
                return true;
            }
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(YIELD_EVERY) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        loop {
            let seen = self.changes.load(Ordering::SeqCst);
            if ready() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            // Checked again with the sleeper counted: a change made before
            // the count rose found no sleeper and made no call.
            if ready() {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            wait(&self.changes, seen, deadline);
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Tells every sleeper that the state changed (call it after the change).
    pub(crate) fn notify(&self) {
        // With nobody asleep the counter need not move: a waiter counts
        // itself a sleeper before its last check of the state, so either
        // that check sees this change, or this load sees the sleeper (both
        // orders are SeqCst). Not writing the counter keeps its cache line
        // where it is, for the common case.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.changes.fetch_add(1, Ordering::SeqCst);
            wake_all(&self.changes);
        }
    }
}

/// Sleeps while `word` holds `seen`, until woken or until `deadline`. May
/// return early (a signal, a spurious wake-up): callers check again.
fn wait(word: &AtomicU32, seen: u32, deadline: Option<Instant>) {
    let at = deadline.map(monotonic_timespec);
    let timeout = at.as_ref().map_or(std::ptr::null(), std::ptr::from_ref);
    // Safety: `word` is a valid, aligned 32-bit atomic for the whole call;
    // `timeout` is null or points to a timespec that outlives it. The
    // kernel reads both and writes neither.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),                // The word, shared between processes.
            libc::FUTEX_WAIT_BITSET,      // Wait, with an absolute deadline.
            seen,                         // Only while the word holds this.
            timeout,                      // CLOCK_MONOTONIC, absolute; null: none.
            std::ptr::null::<u32>(),      // Unused by FUTEX_WAIT_BITSET.
            libc::FUTEX_BITSET_MATCH_ANY, // Any waker.
        )
    };
}

/// Wakes every process sleeping on `word`.
fn wake_all(word: &AtomicU32) {
    // Safety: as in `wait`; FUTEX_WAKE reads no memory but the word's address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),    // The word.
            libc::FUTEX_WAKE, // Wake sleepers.
            libc::c_int::MAX, // All of them.
        )
    };
}

/// `deadline` as an absolute `CLOCK_MONOTONIC` time.
fn monotonic_timespec(deadline: Instant) -> libc::timespec {
    let left = deadline.saturating_duration_since(Instant::now());
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| std::time::Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default();
    let at = now + left;
    libc::timespec {
        tv_sec: at.as_secs() as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}
