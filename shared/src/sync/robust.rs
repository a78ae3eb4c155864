//! A pthread mutex in `MAP_SHARED` memory that tells the next locker when
//! its holder died (`EOWNERDEAD`) instead of staying locked forever: the
//! queue's two locks, and [`Lock`](super::Lock), [`RLock`](super::RLock)
//! and the locks of [`Value`](super::Value) and [`Array`](super::Array).
//!
//! The mutex sits in an [`UnsafeCell`], the way std wraps its own
//! `pthread_mutex_t`: the C calls write through the pointer, so a shared Rust
//! reference to the bytes must allow that. Pointers come only from `.get()`.
//! Only a robust mutex can be told of a dead holder: the kernel walks a
//! dying thread's list of robust mutexes (set_robust_list(2), which glibc
//! keeps for every thread) and marks each one it held, which a futex word
//! of our own could not have the kernel do.
//!
//! Man pages: pthread_mutexattr_setrobust(3), pthread_mutexattr_setpshared(3),
//! pthread_mutexattr_settype(3).

use std::cell::UnsafeCell;
use std::io;
use std::mem::MaybeUninit;
use std::time::Instant;

use crate::sys::realtime_deadline;

/// What locking a mutex the caller already holds does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum MutexKind {
    /// Deadlocks (the queue's locks, never locked twice by their design).
    Plain,
    /// Fails with `EDEADLK`: [`Lock`](super::Lock) says so instead of hanging.
    ErrorCheck,
    /// Counts: [`RLock`](super::RLock).
    Recursive,
}

/// A pthread mutex shared between processes that tells the next locker when
/// its holder died (`EOWNERDEAD`) instead of staying locked forever.
#[repr(transparent)]
pub(crate) struct RobustMutex(UnsafeCell<libc::pthread_mutex_t>);

// Safety: a process-shared pthread mutex may be locked and unlocked from any
// thread of any process; that is its whole purpose.
unsafe impl Sync for RobustMutex {}

/// How a try to lock a [`RobustMutex`] ended.
pub(crate) enum Locked<'a> {
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
    pub(crate) unsafe fn init(this: *mut RobustMutex, kind: MutexKind) -> io::Result<()> {
        let mut attr = MaybeUninit::uninit();
        let mut attr = AttrGuard::new(&mut attr, kind)?;
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
    pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> io::Result<Locked<'_>> {
        let rc = match deadline {
            // Safety: an initialised mutex (see `init`).
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
pub(crate) struct RobustGuard<'a> {
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
    fn new(
        attr: &mut MaybeUninit<libc::pthread_mutexattr_t>,
        kind: MutexKind,
    ) -> io::Result<AttrGuard<'_>> {
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
        let kind = match kind {
            MutexKind::Plain => libc::PTHREAD_MUTEX_NORMAL,
            MutexKind::ErrorCheck => libc::PTHREAD_MUTEX_ERRORCHECK,
            MutexKind::Recursive => libc::PTHREAD_MUTEX_RECURSIVE,
        };
        // Safety: as above.
        check(unsafe { libc::pthread_mutexattr_settype(guard.raw(), kind) })?;
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
