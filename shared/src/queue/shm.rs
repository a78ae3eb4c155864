//! The queue's shared memory: a control block in one `MAP_SHARED` anonymous
//! mapping, made before any fork and so seen by every process forked after.
//! This is the crate's one unsafe room of any size.
//!
//! Each POSIX primitive sits in an [`UnsafeCell`], the way std wraps its own
//! `pthread_mutex_t`: the C calls write through the pointer, so a shared Rust
//! reference to the bytes must allow that. Pointers come only from `.get()`.
//!
//! Man pages: pthread_mutexattr_setrobust(3),
//! pthread_mutexattr_setpshared(3), sem_overview(7), sem_timedwait(3).

use std::cell::UnsafeCell;
use std::io;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize};
use std::time::Instant;

use crate::sys::{map_shared, realtime_deadline, unmap_shared};

/// What every process that uses one queue shares.
#[repr(C)]
pub(super) struct ControlBlock {
    /// Held while one frame is written: frames never interleave.
    pub(super) write_lock: RobustMutex,
    /// Held while one frame is read.
    pub(super) read_lock: RobustMutex,
    /// Free places, when the queue is bounded.
    pub(super) slots: Semaphore,
    /// Items put and not yet got. Counted after an item is whole in the
    /// pipe, so a getter may count it out first: briefly below zero.
    pub(super) items: AtomicIsize,
    /// Packets in the pipe (each small item is one, a large one is one per
    /// page): how `put_timeout` knows whether a whole item fits.
    pub(super) packets: AtomicUsize,
    /// A frame is being written: a writer that dies now tears the stream.
    pub(super) writing: AtomicBool,
    /// A frame is being read: a reader that dies now tears the stream.
    pub(super) reading: AtomicBool,
    /// Set when the stream was torn: a process died mid-frame.
    pub(super) broken: AtomicBool,
}

/// This process's view of a control block: the mapping, unmapped on drop.
pub(super) struct SharedBlock {
    block: NonNull<ControlBlock>,
}

// Safety: the block's primitives are process-shared and so thread-safe; the
// pointer is to a mapping that lives as long as this value, in any thread.
unsafe impl Send for SharedBlock {}
// Safety: as above; `ControlBlock` is only reached through `&`, and its
// fields are atomics or primitives that synchronise themselves.
unsafe impl Sync for SharedBlock {}

impl SharedBlock {
    /// Maps a new control block and initialises it: two robust locks, a
    /// semaphore with `slots` places, no items.
    ///
    /// # Errors
    /// The OS error of `mmap`, `pthread_mutex_init` or `sem_init`.
    pub(super) fn new(slots: u32) -> io::Result<SharedBlock> {
        let size = std::mem::size_of::<ControlBlock>();
        let block = map_shared(size)?.cast::<ControlBlock>();
        // From here on, `Drop` unmaps the memory whatever fails next.
        let shared = SharedBlock { block };
        let raw = shared.block.as_ptr();
        // `raw` points to `size` zeroed, writable bytes that no other process
        // or thread sees yet (nothing has forked since the mmap). Each field
        // is initialised in place, through a pointer to that field alone.
        // Safety: `raw` is in bounds of the mapping; no reference is made.
        let write_lock = unsafe { &raw mut (*raw).write_lock };
        // Safety: as above.
        let read_lock = unsafe { &raw mut (*raw).read_lock };
        // Safety: as above.
        let semaphore = unsafe { &raw mut (*raw).slots };
        // Safety: each points to unused, writable memory for its type that
        // stays put for the mapping's life (see `init`'s contract).
        unsafe { RobustMutex::init(write_lock)? };
        // Safety: as above.
        unsafe { RobustMutex::init(read_lock)? };
        // Safety: as above.
        unsafe { Semaphore::init(semaphore, slots)? };
        // The other fields are atomics: zeroed bytes are valid ones holding
        // 0 and false, which is how they start.
        Ok(shared)
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
        // processes map it, which is why the primitives are not destroyed.
        // Safety: `block` came from mmap with this size, and no reference
        // to it outlives `self`.
        unsafe { unmap_shared(self.block.cast(), std::mem::size_of::<ControlBlock>()) };
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

/// A POSIX semaphore shared between processes.
#[repr(transparent)]
pub(super) struct Semaphore(UnsafeCell<libc::sem_t>);

// Safety: a process-shared semaphore may be used from any thread of any
// process that maps it.
unsafe impl Sync for Semaphore {}

impl Semaphore {
    /// Initialises a process-shared semaphore with `value` in place.
    ///
    /// # Safety
    /// As [`RobustMutex::init`].
    ///
    /// # Errors
    /// The error of `sem_init`.
    unsafe fn init(this: *mut Semaphore, value: u32) -> io::Result<()> {
        // Safety: `this` is valid per the contract; `UnsafeCell<T>` has the
        // layout of `T`.
        let rc = unsafe {
            libc::sem_init(
                this.cast(), // The semaphore.
                1,           // Shared between processes.
                value,       // Free places to start with.
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    fn raw(&self) -> *mut libc::sem_t {
        self.0.get()
    }

    /// Takes one place before `deadline` (`None`: as long as it takes; a
    /// deadline already past: one try). False at the deadline.
    ///
    /// # Errors
    /// Any error of `sem_*wait` but `EINTR` (retried) and a timeout.
    pub(super) fn wait_until(&self, deadline: Option<Instant>) -> io::Result<bool> {
        loop {
            let rc = match deadline {
                // Safety: an initialised semaphore (see `SharedBlock::new`).
                None => unsafe { libc::sem_wait(self.raw()) },
                // Safety: as above.
                Some(d) if d <= Instant::now() => unsafe { libc::sem_trywait(self.raw()) },
                Some(d) => {
                    let at = realtime_deadline(d);
                    // Safety: as above; `at` is a valid local.
                    unsafe { libc::sem_timedwait(self.raw(), &raw const at) }
                }
            };
            if rc == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT | libc::EAGAIN) => return Ok(false),
                _ => return Err(err),
            }
        }
    }

    /// Gives one place back.
    pub(super) fn post(&self) {
        // Safety: an initialised semaphore. It can fail only with EOVERFLOW,
        // which a count bounded by `maxsize` cannot reach.
        unsafe { libc::sem_post(self.raw()) };
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
