//! One word of shared memory per worker: the id of the task it is running
//! (0: none). A worker writes its slot the moment it takes a task from the
//! shared task pipe; the parent reads it when the worker dies, to fail that
//! task with `WorkerDied` instead of losing it. Mapped before the workers
//! are forked, so every worker sees the same memory. See mmap(2).

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use crate::sys::{map_shared, unmap_shared};

/// `len` shared `AtomicU64`s, unmapped on drop.
pub(super) struct Slots {
    first: NonNull<AtomicU64>,
    len: usize,
}

// Safety: the slots are atomics in memory that lives as long as `Slots`;
// any thread may read or write them.
unsafe impl Send for Slots {}
// Safety: as above; only shared references to atomics are handed out.
unsafe impl Sync for Slots {}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slots").field("len", &self.len).finish()
    }
}

impl Slots {
    /// Maps `len` slots, all 0.
    ///
    /// # Errors
    /// The error of `mmap`.
    pub(super) fn new(len: usize) -> io::Result<Slots> {
        let bytes = len.max(1) * size_of::<AtomicU64>();
        // A fresh mapping is zeroed, and zero bytes are a valid `AtomicU64`
        // holding 0: every slot starts empty.
        let first = map_shared(bytes)?.cast::<AtomicU64>();
        Ok(Slots { first, len })
    }

    /// Worker `i`'s slot.
    pub(super) fn get(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.len, "slot {i} of {}", self.len);
        // Safety: `i` is in bounds of the mapping.
        let slot = unsafe { self.first.add(i) };
        // Safety: the mapping lives as long as `self`, and an `AtomicU64` may
        // be shared between threads and processes.
        unsafe { slot.as_ref() }
    }
}

impl Drop for Slots {
    fn drop(&mut self) {
        // Safety: the mapping came from `new` with this size, and no
        // reference into it outlives `self`.
        unsafe { unmap_shared(self.first.cast(), self.len.max(1) * size_of::<AtomicU64>()) };
    }
}
