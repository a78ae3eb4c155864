//! The queue's shared memory: a control block and the ring its items pass
//! through, in one `MAP_SHARED` anonymous mapping made before any fork and
//! so seen by every process forked after. This is the crate's one unsafe
//! room of any size.
//!
//! The robust mutexes sit in an [`UnsafeCell`], the way std wraps its own
//! `pthread_mutex_t`: the C calls write through the pointer, so a shared Rust
//! reference to the bytes must allow that. Pointers come only from `.get()`.
//! The ring's bytes are reached only through `SharedBlock::ring_write` and
//! `SharedBlock::ring_read`, which copy, under the rules `ring.rs` keeps.
//!
//! Man pages: pthread_mutexattr_setrobust(3), pthread_mutexattr_setpshared(3),
//! futex(2).

use std::cell::UnsafeCell;
use std::io;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use crate::futex::Notifier;
use crate::sys::{map_shared, realtime_deadline, unmap_shared};

/// The ring's size in bytes: what the queue holds before a `put` waits.
pub(super) const RING: usize = 1 << 20;

/// What every process that uses one queue shares. Every count the queue
/// keeps is in `tail` and `head`, and each changes in one store: see
/// `ring.rs`.
#[repr(C)]
pub(super) struct ControlBlock {
    /// Held by the one producer that writes into the ring.
    pub(super) producer_lock: RobustMutex,
    /// Held by the one consumer that reads from it.
    pub(super) consumer_lock: RobustMutex,
    /// Where the next record goes, items put, and whether an item is
    /// half written (packed; `ring.rs`).
    pub(super) tail: AtomicU64,
    /// Where the next record is read, items taken, and whether an item is
    /// half read (packed; `ring.rs`).
    pub(super) head: AtomicU64,
    /// Told when `tail` moves: consumers sleep on it.
    pub(super) tail_moved: Notifier,
    /// Told when `head` moves: producers sleep on it.
    pub(super) head_moved: Notifier,
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
        let producer_lock = unsafe { &raw mut (*raw).producer_lock };
        // Safety: as above.
        let consumer_lock = unsafe { &raw mut (*raw).consumer_lock };
        // Safety: each points to unused, writable memory for its type that
        // stays put for the mapping's life (see `init`'s contract).
        unsafe { RobustMutex::init(producer_lock)? };
        // Safety: as above.
        unsafe { RobustMutex::init(consumer_lock)? };
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

/// A pthread mutex shared between processes that tells the next locker when
/// its holder died (`EOWNERDEAD`) instead of staying locked forever.
#[repr(transparent)]
pub(super) struct RobustMutex(UnsafeCell<libc::pthread_mutex_t>);

// Safety: a process-shared pthread mutex may be locked and unlocked from any
// thread of any process; that is its whole purpose.
unsafe impl Sync for RobustMutex {}

/// How a try to lock a [`RobustMutex`] ended.
pub(super) enum Locked<'a> {
    /// Locked; the guard unlocks on drop.
    Held(RobustGuard<'a>),
    /// The deadline came first (or, with a deadline already past, the lock
    /// was busy).
    TimedOut,
    /// The last holder died holding it. The lock was made usable again and
    /// is held by the caller now; whatever it guarded may be half done.
    HolderDied(RobustGuard<'a>),
}

impl RobustMutex {
    /// Initialises a process-shared, robust mutex in place.
    ///
    /// # Safety
    /// `this` must point to writable memory for a `RobustMutex` that no
    /// other thread or process uses yet, and that stays where it is.
    ///
    /// # Errors
    /// The error code of `pthread_mutexattr_*` or `pthread_mutex_init`.
    unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        let mut attr = MaybeUninit::uninit();
        let mut attr = AttrGuard::new(&mut attr)?;
        // Safety: `attr` is initialised; `this` is valid per the contract,
        // and `UnsafeCell<T>` has the layout of `T`.
        let rc = unsafe { libc::pthread_mutex_init(this.cast(), attr.raw()) };
        check(rc)
    }

    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.0.get()
    }

    /// Locks before `deadline` (`None`: wait as long as it takes; a deadline
    /// already past: one try).
    ///
    /// # Errors
    /// Any other error code of `pthread_mutex_*lock`.
    pub(super) fn lock_until(&self, deadline: Option<Instant>) -> io::Result<Locked<'_>> {
        let rc = match deadline {
            // Safety: an initialised mutex (see `SharedBlock::new`).
            None => unsafe { libc::pthread_mutex_lock(self.raw()) },
            // Safety: as above.
            Some(d) if d <= Instant::now() => unsafe { libc::pthread_mutex_trylock(self.raw()) },
            Some(d) => {
                let at = realtime_deadline(d);
                // Safety: as above; `at` is a valid local.
                unsafe { libc::pthread_mutex_timedlock(self.raw(), &raw const at) }
            }
        };
        match rc {
            0 => Ok(Locked::Held(RobustGuard { mutex: self })),
            libc::ETIMEDOUT | libc::EBUSY => Ok(Locked::TimedOut),
            libc::EOWNERDEAD => {
                // EOWNERDEAD hands the lock over, marked inconsistent: mark it
                // consistent so that it can be used again.
                let guard = RobustGuard { mutex: self };
                // Safety: this thread holds the mutex.
                check(unsafe { libc::pthread_mutex_consistent(self.raw()) })?;
                Ok(Locked::HolderDied(guard))
            }
            other => Err(io::Error::from_raw_os_error(other)),
        }
    }
}

/// Holds a [`RobustMutex`]; unlocks it on drop.
pub(super) struct RobustGuard<'a> {
    mutex: &'a RobustMutex,
}

impl Drop for RobustGuard<'_> {
    fn drop(&mut self) {
        // Safety: a guard exists only while this thread holds the mutex.
        unsafe { libc::pthread_mutex_unlock(self.mutex.raw()) };
    }
}

/// An initialised mutex attribute object, destroyed on drop (std's
/// `AttrGuard`).
struct AttrGuard<'a>(&'a mut MaybeUninit<libc::pthread_mutexattr_t>);

impl AttrGuard<'_> {
    /// Initialises `attr` as a process-shared, robust mutex attribute.
    fn new(attr: &mut MaybeUninit<libc::pthread_mutexattr_t>) -> io::Result<AttrGuard<'_>> {
        // Safety: `attr` is writable memory for the object, which the call
        // initialises.
        check(unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) })?;
        let mut guard = AttrGuard(attr);
        // Safety: the attribute was initialised just above.
        check(unsafe {
            libc::pthread_mutexattr_setpshared(guard.raw(), libc::PTHREAD_PROCESS_SHARED)
        })?;
        // Safety: as above.
        check(unsafe {
            libc::pthread_mutexattr_setrobust(guard.raw(), libc::PTHREAD_MUTEX_ROBUST)
        })?;
        Ok(guard)
    }

    fn raw(&mut self) -> *mut libc::pthread_mutexattr_t {
        self.0.as_mut_ptr()
    }
}

impl Drop for AttrGuard<'_> {
    fn drop(&mut self) {
        // Safety: a guard exists only for an initialised attribute.
        unsafe { libc::pthread_mutexattr_destroy(self.0.as_mut_ptr()) };
    }
}

/// A pthread return code as a `Result`.
fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}
