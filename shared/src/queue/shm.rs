//! The queue's shared memory: a control block and the ring its items pass
//! through, in one `MAP_SHARED` anonymous mapping made before any fork and
//! so seen by every process forked after. This is the crate's one unsafe
//! room of any size.
//!
//! The robust mutexes are `sync::robust`'s. The ring's bytes are reached only through `SharedBlock::ring_write` and
//! `SharedBlock::ring_read`, which copy, under the rules `ring.rs` keeps.
//!
//! Man page: futex(2).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use crate::futex::Notifier;
use crate::sync::robust::{MutexKind, RobustMutex};
use crate::sys::{map_shared, unmap_shared};

/// The ring's size in bytes: what the queue holds before a `put` waits.
pub(super) const RING: usize = 1 << 20;

/// What every process that uses one queue shares. Every count the queue
/// keeps is in `tail` and `head`, and each changes in one store: see
/// `ring.rs`. Each field has cache lines of its own: a producer and a
/// consumer on two CPUs then pass only the lines they really share (`tail`
/// and `head`), not the lock the other side takes for every item.
#[repr(C)]
pub(super) struct ControlBlock {
    /// Held by the one producer that writes into the ring.
    pub(super) producer_lock: Apart<RobustMutex>,
    /// Held by the one consumer that reads from it.
    pub(super) consumer_lock: Apart<RobustMutex>,
    /// Where the next record goes, items put, and whether an item is
    /// half written (packed; `ring.rs`).
    pub(super) tail: Apart<AtomicU64>,
    /// Where the next record is read, items taken, and whether an item is
    /// half read (packed; `ring.rs`).
    pub(super) head: Apart<AtomicU64>,
    /// Told when `tail` moves: consumers sleep on it.
    pub(super) tail_moved: Apart<Notifier>,
    /// Told when `head` moves: producers sleep on it.
    pub(super) head_moved: Apart<Notifier>,
    /// `head`'s position as a producer last read it: written only under
    /// `producer_lock`, so that producers read `head` itself only when this
    /// view shows too little room (`ring.rs`).
    pub(super) head_seen: Apart<AtomicU64>,
    /// `tail`'s position as a consumer last read it: written only under
    /// `consumer_lock`, so that consumers read `tail` itself only when this
    /// view shows nothing left to take.
    pub(super) tail_seen: Apart<AtomicU64>,
}

/// A value alone on its 128 bytes: two cache lines, since CPUs fetch lines
/// in adjacent pairs.
#[repr(C, align(128))]
pub(super) struct Apart<T>(pub(super) T);

impl<T> std::ops::Deref for Apart<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// This process's view of a control block and its ring: the mapping,
/// unmapped on drop.
pub(super) struct SharedBlock {
    block: NonNull<ControlBlock>,
}

// Safety: the block's locks are process-shared and so thread-safe, its other
// fields atomics; the ring is reached only under the locks (see `ring.rs`).
// The pointer is to a mapping that lives as long as this value, in any thread.
unsafe impl Send for SharedBlock {}
// Safety: as above.
unsafe impl Sync for SharedBlock {}

/// Where the ring starts in the mapping: after the block, cache-line aligned.
const RING_OFFSET: usize = std::mem::size_of::<ControlBlock>().next_multiple_of(64);
/// The mapping's size.
const MAPPING: usize = RING_OFFSET + RING;

impl SharedBlock {
    /// Maps a new control block and ring and initialises them: two robust
    /// locks, an empty ring, no items.
    ///
    /// # Errors
    /// The OS error of `mmap` or `pthread_mutex_init`.
    pub(super) fn new() -> io::Result<SharedBlock> {
        let block = map_shared(MAPPING)?.cast::<ControlBlock>();
        // From here on, `Drop` unmaps the memory whatever fails next.
        let shared = SharedBlock { block };
        let raw = shared.block.as_ptr();
        // `raw` points to zeroed, writable bytes that no other process or
        // thread sees yet (nothing has forked since the mmap). Each lock is
        // initialised in place, through a pointer to that field alone.
        // Safety: `raw` is in bounds of the mapping; no reference is made.
        let producer_lock = unsafe { &raw mut (*raw).producer_lock.0 };
        // Safety: as above.
        let consumer_lock = unsafe { &raw mut (*raw).consumer_lock.0 };
        // Safety: each points to unused, writable memory for its type that
        // stays put for the mapping's life (see `init`'s contract).
        unsafe { RobustMutex::init(producer_lock, MutexKind::Plain)? };
        // Safety: as above.
        unsafe { RobustMutex::init(consumer_lock, MutexKind::Plain)? };
        // The other fields are atomics: zeroed bytes are valid ones holding
        // 0, which is how they start (an empty ring, no item, no sleeper).
        Ok(shared)
    }

    /// The ring's first byte (RING_OFFSET + RING is the mapping's size).
    fn ring(&self) -> *mut u8 {
        self.block.as_ptr().cast::<u8>().wrapping_add(RING_OFFSET)
    }

    /// Copies `bytes` into the ring from byte `at` on, wrapping at its end.
    ///
    /// # Safety
    /// The caller holds `producer_lock`, and the bytes written are free:
    /// not yet published by `tail`, and already passed by `head`. No other
    /// process reads or writes them meanwhile.
    pub(super) unsafe fn ring_write(&self, at: usize, bytes: &[u8]) {
        assert!(bytes.len() <= RING, "a record larger than the ring");
        let at = at % RING;
        let first = bytes.len().min(RING - at);
        let (front, wrapped) = bytes.split_at(first);
        // Safety: `at + first <= RING` and `wrapped.len() <= RING`: both
        // copies stay in the ring; `bytes` is our own memory, which cannot
        // overlap the mapping's.
        unsafe {
            std::ptr::copy_nonoverlapping(front.as_ptr(), self.ring().wrapping_add(at), first)
        };
        // Safety: as above, the wrapped part from the ring's start.
        unsafe { std::ptr::copy_nonoverlapping(wrapped.as_ptr(), self.ring(), wrapped.len()) };
    }

    /// Copies `out.len()` bytes out of the ring from byte `at` on, wrapping.
    ///
    /// # Safety
    /// The caller holds `consumer_lock`, and the bytes read were published
    /// by `tail` and not yet passed by `head`: no producer writes them
    /// meanwhile.
    pub(super) unsafe fn ring_read(&self, at: usize, out: &mut [u8]) {
        assert!(out.len() <= RING, "a record larger than the ring");
        let at = at % RING;
        let first = out.len().min(RING - at);
        let (front, wrapped) = out.split_at_mut(first);
        // Safety: as in `ring_write`, the other way round.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ring().wrapping_add(at), front.as_mut_ptr(), first)
        };
        // Safety: as above.
        unsafe { std::ptr::copy_nonoverlapping(self.ring(), wrapped.as_mut_ptr(), wrapped.len()) };
    }
}

impl std::ops::Deref for SharedBlock {
    type Target = ControlBlock;

    fn deref(&self) -> &ControlBlock {
        // Safety: the mapping lives until `drop` and was initialised in
        // `new`; every field is atomic or behind an `UnsafeCell`, so a shared
        // reference to it is sound while other processes use it.
        unsafe { self.block.as_ref() }
    }
}

impl Drop for SharedBlock {
    fn drop(&mut self) {
        // Only this process's mapping goes: the memory lives on while other
        // processes map it, which is why the locks are not destroyed.
        // Safety: `block` came from mmap with this size, and no reference
        // to it outlives `self`.
        unsafe { unmap_shared(self.block.cast(), MAPPING) };
    }
}
