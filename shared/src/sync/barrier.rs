//! [`Barrier`]: processes wait until all of them are there.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::Region;
use crate::error::Error;
use crate::futex::Notifier;
use crate::sys::deadline_after;

/// The state in one word, so that an arrival, a release and a break are each
/// one compare-and-swap: the parties arrived in this round (low 32 bits),
/// the round's number (next 31), and whether the barrier is broken (top bit).
const BROKEN: u64 = 1 << 63;
const ROUND: u64 = 1 << 32;

#[repr(C)]
struct Block {
    state: AtomicU64,
    /// How many parties each round waits for. Set once, before any other
    /// process sees the block.
    parties: AtomicU32,
    /// Told when a round ends or the barrier breaks.
    changed: Notifier,
}

/// Why [`Barrier::wait`] returned without the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierError {
    /// The barrier is broken: a party's wait ran out of time, or
    /// [`Barrier::abort`] was called. Python: `BrokenBarrierError`.
    Broken,
}

impl std::fmt::Display for BarrierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "the barrier is broken: a party's wait timed out (one that never came, perhaps \
             because it died) or it was aborted; reset() it before it is used again",
        )
    }
}

impl std::error::Error for BarrierError {}

/// A meeting point for a fixed number of processes: each `wait` returns
/// once all of them are waiting, and the barrier is ready for the next
/// round. Python: `multiprocessing.Barrier(parties)`.
///
/// A party that never arrives (it died first) keeps the others waiting
/// until their deadline, which breaks the barrier for all of them.
///
/// ```standalone_crate
/// use multiproc::{Barrier, Process};
/// use std::time::Duration;
///
/// let start = Barrier::new(2).unwrap();
/// let mut child =
///     Process::start_with_code(|| i32::from(start.wait(Duration::from_secs(5)).is_err())).unwrap();
/// start.wait(Duration::from_secs(5)).unwrap(); // returns when the child is there too
/// assert_eq!(child.join().unwrap(), 0);
/// ```
#[doc(alias = "multiprocessing.Barrier")]
pub struct Barrier {
    block: Region<Block>,
}

impl Barrier {
    /// A barrier for `parties` processes (at least 1).
    ///
    /// # Errors
    /// [`Error::State`] for 0 parties; [`Error::Os`] if the shared memory
    /// cannot be mapped.
    pub fn new(parties: u32) -> Result<Barrier, Error> {
        if parties == 0 {
            return Err(Error::State("a barrier needs at least one party"));
        }
        // Safety: all atomics; zeroed bytes are a valid block, set below
        // before anyone else sees it.
        let block = unsafe { Region::<Block>::new(0, |_| Ok(()))? };
        block.parties.store(parties, Ordering::Relaxed);
        Ok(Barrier { block })
    }

    /// Waits until every party is waiting, at most `timeout`; returns this
    /// party's place in the round, 0 for the first to arrive. Python:
    /// `barrier.wait(timeout)`, whose result is the same index.
    ///
    /// # Errors
    /// [`BarrierError::Broken`] if the barrier is broken, or breaks while
    /// this party waits; when the deadline comes first, this party breaks
    /// it, for every party that waits in the round.
    pub fn wait(&self, timeout: Duration) -> Result<u32, BarrierError> {
        let deadline = deadline_after(timeout);
        let parties = u64::from(self.block.parties.load(Ordering::Relaxed));
        let state = &self.block.state;
        let mut seen = state.load(Ordering::Acquire);
        let arrived = loop {
            if seen & BROKEN != 0 {
                return Err(BarrierError::Broken);
            }
            let arrived = seen & (ROUND - 1);
            let next = if arrived + 1 == parties {
                // The last party: the round ends, the count starts again.
                (seen & !(ROUND - 1)).wrapping_add(ROUND) & !BROKEN
            } else {
                seen + 1
            };
            match state.compare_exchange(seen, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break arrived,
                Err(now) => seen = now,
            }
        };
        let index = u32::try_from(arrived).expect("a count of u32 parties");
        if arrived + 1 == parties {
            self.block.changed.notify();
            return Ok(index);
        }
        let round = seen & !(ROUND - 1) & !BROKEN;
        let over = || {
            let now = state.load(Ordering::Acquire);
            now & BROKEN != 0 || now & !(ROUND - 1) & !BROKEN != round
        };
        if self.block.changed.wait_until(deadline, over) {
            let now = state.load(Ordering::Acquire);
            if now & !(ROUND - 1) & !BROKEN != round {
                return Ok(index);
            }
            return Err(BarrierError::Broken);
        }
        // Out of time in this round: break it, unless it ended just now.
        let broke = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            (now & !(ROUND - 1) & !BROKEN == round).then_some(now | BROKEN)
        });
        match broke {
            Ok(_) => {
                self.block.changed.notify();
                Err(BarrierError::Broken)
            }
            Err(_) => Ok(index),
        }
    }

    /// Breaks the barrier: every party waiting now, and every later `wait`,
    /// gets [`BarrierError::Broken`]. Python: `barrier.abort()`.
    pub fn abort(&self) {
        self.block.state.fetch_or(BROKEN, Ordering::AcqRel);
        self.block.changed.notify();
    }

    /// Mends a broken barrier for a fresh round with no one waiting. Python:
    /// `barrier.reset()` (whose waiting parties get `BrokenBarrierError`:
    /// call it when none waits).
    pub fn reset(&self) {
        let state = &self.block.state;
        let _ = state.fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            Some((now & !(ROUND - 1) & !BROKEN).wrapping_add(ROUND) & !BROKEN)
        });
        self.block.changed.notify();
    }

    /// Whether the barrier is broken. Python: `barrier.broken`.
    pub fn broken(&self) -> bool {
        self.block.state.load(Ordering::Acquire) & BROKEN != 0
    }

    /// How many parties wait in this round now. Python: `barrier.n_waiting`.
    pub fn n_waiting(&self) -> u32 {
        let arrived = self.block.state.load(Ordering::Acquire) & (ROUND - 1);
        u32::try_from(arrived).expect("a count of u32 parties")
    }

    /// How many parties each round waits for. Python: `barrier.parties`.
    pub fn parties(&self) -> u32 {
        self.block.parties.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}
