//! [`Lock`] and [`RLock`]: robust process-shared mutexes, each a guard away
//! from what they protect.

use std::time::Duration;

use super::robust::{MutexKind, RobustGuard, RobustMutex};
use super::{LockError, Region, locked};
use crate::error::Error;
use crate::sys::deadline_after;

/// A lock that processes share: one holder at a time. Python:
/// `multiprocessing.Lock()`, taken with `with lock:`.
///
/// Made before a fork, it is the same lock in the child. `acquire` returns
/// a guard and the lock is released when the guard goes, so only its holder
/// can release it (Python's `Lock` is a semaphore of one that any process
/// may release: that is [`Semaphore::new(1)`](super::Semaphore::new) here).
///
/// When a holder dies holding it, the next `acquire` is told so
/// ([`LockError::HolderDied`]) and holds the lock; CPython's `Lock` would
/// stay taken for good.
///
/// ```standalone_crate
/// use multiproc::{Lock, LockError, Process};
///
/// let lock = Lock::new().unwrap();
/// let mut child = Process::start(|| {
///     let _held = lock.acquire().unwrap();
///     std::process::abort(); // dies holding it
/// })
/// .unwrap();
/// child.join().unwrap();
/// match lock.acquire() {
///     Err(LockError::HolderDied(_guard)) => println!("taken over from a dead holder"),
///     other => panic!("{other:?}"),
/// }
/// // Recovered: the lock works as before.
/// drop(lock.acquire().unwrap());
/// ```
#[doc(alias = "multiprocessing.Lock")]
pub struct Lock {
    mutex: Region<RobustMutex>,
}

/// Holds a [`Lock`]; releases it when dropped. Python: the body of
/// `with lock:`.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    _held: RobustGuard<'a>,
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LockGuard")
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lock")
    }
}

impl Lock {
    /// A new, free lock in shared memory.
    ///
    /// # Errors
    /// [`Error::Os`] if the memory cannot be mapped or the mutex set up.
    pub fn new() -> Result<Lock, Error> {
        Ok(Lock {
            mutex: new_mutex(MutexKind::ErrorCheck)?,
        })
    }

    /// Waits as long as it takes for the lock. Python: `lock.acquire()`.
    ///
    /// # Errors
    /// [`LockError::HolderDied`] with the guard if the last holder died
    /// holding it; [`LockError::AlreadyHeld`] if this thread holds it;
    /// [`LockError::Os`] if the system refused.
    pub fn acquire(&self) -> Result<LockGuard<'_>, LockError<LockGuard<'_>>> {
        locked(self.mutex.lock_until(None), |held| LockGuard {
            _held: held,
        })
    }

    /// Waits at most `timeout` for the lock (`Duration::ZERO`: one try).
    /// Python: `lock.acquire(timeout=...)`.
    ///
    /// # Errors
    /// [`LockError::TimedOut`] if it was still held at the deadline; the
    /// others as [`Lock::acquire`].
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, LockError<LockGuard<'_>>> {
        let deadline = deadline_after(timeout);
        locked(self.mutex.lock_until(deadline), |held| LockGuard {
            _held: held,
        })
    }
}

/// A lock that its holder may take again: released when every guard is
/// gone. Python: `multiprocessing.RLock()`.
///
/// ```standalone_crate
/// let lock = multiproc::RLock::new().unwrap();
/// let outer = lock.acquire().unwrap();
/// let inner = lock.acquire().unwrap(); // a Lock would refuse: AlreadyHeld
/// drop((inner, outer));
/// ```
#[doc(alias = "multiprocessing.RLock")]
pub struct RLock {
    mutex: Region<RobustMutex>,
}

/// Holds an [`RLock`] once; the lock is free when its holder's last guard
/// is dropped.
#[must_use = "the hold is released as soon as the guard is dropped"]
pub struct RLockGuard<'a> {
    _held: RobustGuard<'a>,
}

impl std::fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RLockGuard")
    }
}

impl std::fmt::Debug for RLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RLock")
    }
}

impl RLock {
    /// A new, free reentrant lock in shared memory.
    ///
    /// # Errors
    /// [`Error::Os`] if the memory cannot be mapped or the mutex set up.
    pub fn new() -> Result<RLock, Error> {
        Ok(RLock {
            mutex: new_mutex(MutexKind::Recursive)?,
        })
    }

    /// Waits as long as it takes for the lock; at once if this thread holds
    /// it. Python: `rlock.acquire()`.
    ///
    /// # Errors
    /// [`LockError::HolderDied`] with the guard if the last holder died
    /// holding it; [`LockError::Os`] if the system refused (the count of
    /// holds has a limit).
    pub fn acquire(&self) -> Result<RLockGuard<'_>, LockError<RLockGuard<'_>>> {
        locked(self.mutex.lock_until(None), |held| RLockGuard {
            _held: held,
        })
    }

    /// Waits at most `timeout` for the lock. Python:
    /// `rlock.acquire(timeout=...)`.
    ///
    /// # Errors
    /// [`LockError::TimedOut`] if another holder had it at the deadline; the
    /// others as [`RLock::acquire`].
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, LockError<RLockGuard<'_>>> {
        let deadline = deadline_after(timeout);
        locked(self.mutex.lock_until(deadline), |held| RLockGuard {
            _held: held,
        })
    }
}

/// A robust mutex of `kind` in a mapping of its own.
pub(super) fn new_mutex(kind: MutexKind) -> Result<Region<RobustMutex>, Error> {
    let init = |mutex| {
        // Safety: `mutex` is fresh, writable memory no one else sees yet, in
        // a mapping that stays put while the lock lives.
        unsafe { RobustMutex::init(mutex, kind) }
    };
    // Safety: `init` sets the mutex up in place; a process-shared mutex may
    // be shared by reference.
    unsafe { Region::new(0, init) }
}
