//! Locks, semaphores, events, barriers and plain values in memory that
//! processes share: the counterparts of Python's `multiprocessing.Lock`,
//! `RLock`, `Semaphore`, `BoundedSemaphore`, `Event`, `Barrier`, `Value`,
//! `Array` and `shared_memory.SharedMemory`.
//!
//! Each object lives in a `MAP_SHARED` anonymous mapping made when it is
//! created; a child forked after that maps the same pages, so the object
//! is shared with every process forked later (Python's fork start method
//! behaves the same). A program started with [`Process::spawn`] maps
//! nothing of its parent's: give it a [`SharedMemory`] by name instead.
//!
//! Every wait sleeps on a futex in the shared memory (the crate's
//! `Notifier`, also what the [`Queue`](crate::Queue) waits on), or on a
//! robust process-shared pthread mutex, and every wait with a deadline
//! returns by it. Nothing here leaves a file anywhere: the memory goes when
//! the last process that maps it ends, however it ends.
//!
//! # When a process dies
//! - Holding a [`Lock`], [`RLock`] or the lock of a [`Value`] or [`Array`]:
//!   the next `acquire` gets the lock with [`LockError::HolderDied`], as
//!   `std::sync::Mutex` reports poisoning, and the lock works on. (CPython's
//!   `Lock` stays taken for good: every later `acquire` waits forever, or
//!   until its timeout, every time.)
//! - Holding a permit of a [`Semaphore`]: the permit is lost, as in Python;
//!   a semaphore cannot know who holds its permits.
//! - Before it reaches a [`Barrier`]: the others wait until their timeout,
//!   which breaks the barrier for all of them, as Python's
//!   `BrokenBarrierError`.
//!
//! [`Process::spawn`]: crate::Process::spawn

mod barrier;
mod event;
mod lock;
pub(crate) mod robust;
mod semaphore;
mod shared_memory;
mod value;

use std::fmt;
use std::ptr::NonNull;

pub use barrier::{Barrier, BarrierError};
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use semaphore::{Semaphore, SemaphoreGuard};
pub use shared_memory::SharedMemory;
pub use value::{Array, ArrayGuard, Shared, Value, ValueGuard};

use crate::sys::{map_shared, unmap_shared};

/// Data that means the same in every process that maps it: no pointer, no
/// reference, nothing that owns memory (`String`, `Vec`, `Box` point into
/// one process's heap: another process would read its own memory at that
/// address), and no handle that belongs to one process.
///
/// A type that is not `Plain` is refused when the program is compiled:
///
/// ```compile_fail,E0277
/// let name = multiproc::Value::new(String::from("in one process's heap"));
/// ```
///
/// # Safety
/// Implement it only for types with no pointers, references or
/// process-local handles in them, at any depth. (The types here are laid
/// out the same in parent and child, since both run the same program.)
pub unsafe trait Plain: Sized + Send + 'static {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // Safety: a number, `bool` or `char`, or an atomic of one: bytes
        // with no pointer in them.
        unsafe impl Plain for $t {}
    )* };
}
plain!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64, bool, char
);
plain!(
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::sync::atomic::AtomicIsize
);
// Safety: an array of plain elements has no pointer in it either.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}
// Safety: as above, for the fields of a tuple.
unsafe impl<A: Plain, B: Plain> Plain for (A, B) {}
// Safety: as above.
unsafe impl<A: Plain, B: Plain, C: Plain> Plain for (A, B, C) {}

/// Why a lock was not simply taken.
///
/// `G` is the guard the lock gives: [`LockError::HolderDied`] hands it over.
pub enum LockError<G> {
    /// The last holder died holding the lock. The lock is the caller's now,
    /// in the guard, and works on; what it protected may be half changed
    /// (check it, then use the guard). Python has no counterpart: its
    /// `Lock` stays taken for good.
    HolderDied(G),
    /// The deadline came first. Python: `acquire(timeout=...)` returned
    /// `False`.
    TimedOut,
    /// This thread holds the lock already: a second `acquire` would wait for
    /// itself forever, as Python's `Lock` does. Use an [`RLock`] if a holder
    /// must take it again.
    AlreadyHeld,
    /// The operating system refused (an error of `pthread_mutex_*lock`).
    Os(std::io::Error),
}

impl<G> LockError<G> {
    /// The guard, if the lock was taken after all (its holder had died).
    pub fn into_guard(self) -> Option<G> {
        match self {
            LockError::HolderDied(guard) => Some(guard),
            _ => None,
        }
    }

    fn from_io(e: std::io::Error) -> LockError<G> {
        if e.raw_os_error() == Some(libc::EDEADLK) {
            LockError::AlreadyHeld
        } else {
            LockError::Os(e)
        }
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::HolderDied(_) => f.write_str("HolderDied(..)"),
            LockError::TimedOut => f.write_str("TimedOut"),
            LockError::AlreadyHeld => f.write_str("AlreadyHeld"),
            LockError::Os(e) => f.debug_tuple("Os").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::HolderDied(_) => f.write_str(
                "the lock's last holder died holding it: the lock is yours now, and what it \
                 protected may be half changed (check it before you go on)",
            ),
            LockError::TimedOut => f.write_str("the lock was still held at the deadline"),
            LockError::AlreadyHeld => f.write_str(
                "this thread holds the lock already: waiting for it would wait forever (an \
                 RLock may be taken again by its holder)",
            ),
            LockError::Os(e) => write!(f, "locking failed: {e}"),
        }
    }
}

impl<G> std::error::Error for LockError<G> {}

/// Turns the outcome of locking a robust mutex into a guard or an error.
fn locked<'a, G>(
    outcome: std::io::Result<robust::Locked<'a>>,
    guard: impl FnOnce(robust::RobustGuard<'a>) -> G,
) -> Result<G, LockError<G>> {
    match outcome.map_err(LockError::from_io)? {
        robust::Locked::Held(held) => Ok(guard(held)),
        robust::Locked::HolderDied(held) => Err(LockError::HolderDied(guard(held))),
        robust::Locked::TimedOut => Err(LockError::TimedOut),
    }
}

/// One `T` in a fresh `MAP_SHARED` mapping, then a tail of bytes (64-byte
/// aligned);
/// this process's mapping goes on drop (the memory lives on while other
/// processes map it).
struct Region<T> {
    head: NonNull<T>,
    bytes: usize,
}

// Safety: `T` is shared by reference only, between threads as between
// processes: it must be `Sync` for that (each `T` here is made of atomics and
// process-shared locks, and its plain data is reached under those locks).
unsafe impl<T: Sync> Send for Region<T> {}
// Safety: as above.
unsafe impl<T: Sync> Sync for Region<T> {}

impl<T> Region<T> {
    /// Maps zeroed shared memory for a `T` and `tail` bytes after it, and
    /// lets `init` set them up in place.
    ///
    /// # Safety
    /// When `init` returns `Ok`, the memory must hold a valid `T` that may be
    /// shared by reference between processes: every change to it is made
    /// through an atomic, or under a process-shared lock it holds.
    unsafe fn new(
        tail: usize,
        init: impl FnOnce(*mut T) -> std::io::Result<()>,
    ) -> Result<Region<T>, crate::Error> {
        assert!(std::mem::align_of::<T>() <= 4096, "page alignment at most");
        let bytes = Self::TAIL_OFFSET
            .checked_add(tail)
            .ok_or(crate::Error::State("a shared object larger than memory"))?
            .max(1);
        let head = map_shared(bytes)
            .map_err(|e| crate::Error::os("mmap", &e))?
            .cast::<T>();
        // From here on, drop unmaps the memory whatever fails next.
        let region = Region { head, bytes };
        init(head.as_ptr()).map_err(|e| crate::Error::os("pthread_mutex_init", &e))?;
        Ok(region)
    }

    /// Where the tail starts: after the `T`, aligned for anything up to a
    /// cache line.
    const TAIL_OFFSET: usize = std::mem::size_of::<T>().next_multiple_of(64);

    /// The tail's first byte.
    fn tail(&self) -> *mut u8 {
        self.head
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(Self::TAIL_OFFSET)
    }
}

impl<T> std::ops::Deref for Region<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // Safety: the mapping lives until drop and holds a valid `T` that may
        // be shared by reference (the contract of `new`).
        unsafe { self.head.as_ref() }
    }
}

impl<T> Drop for Region<T> {
    fn drop(&mut self) {
        // Only this process's mapping goes, so nothing in it is destroyed:
        // other processes may use it still.
        // Safety: `head` and `bytes` are the mapping `new` made, and no
        // reference to it outlives `self`.
        unsafe { unmap_shared(self.head.cast(), self.bytes) };
    }
}
