//! [`Semaphore`]: a count of permits that processes share.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::Region;
use crate::error::Error;
use crate::futex::Notifier;
use crate::sys::deadline_after;

#[repr(C)]
struct Block {
    /// Permits free now.
    free: AtomicU32,
    /// The most permits there may be (`u32::MAX`: no bound). Set once,
    /// before any other process sees the block.
    bound: AtomicU32,
    /// Told when a permit comes back.
    released: Notifier,
}

/// A count of permits that processes share: `acquire` takes one, waiting
/// while there is none, and dropping its guard gives it back. Python:
/// `multiprocessing.Semaphore(value)`, and with a bound,
/// `multiprocessing.BoundedSemaphore(value)`.
///
/// A process that dies holding a permit takes it with it, as in Python: a
/// semaphore does not know who holds its permits.
///
/// ```standalone_crate
/// use multiproc::Semaphore;
///
/// let seats = Semaphore::new(2).unwrap();
/// let a = seats.acquire();
/// let b = seats.acquire();
/// assert!(seats.acquire_timeout(std::time::Duration::ZERO).is_none(), "none left");
/// drop(a);
/// assert_eq!(seats.get_value(), 1);
/// drop(b);
/// ```
#[doc(alias = "multiprocessing.Semaphore")]
#[doc(alias = "BoundedSemaphore")]
pub struct Semaphore {
    block: Region<Block>,
}

/// One permit of a [`Semaphore`]; given back when dropped. Python: the
/// body of `with semaphore:`.
#[must_use = "the permit is given back as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    semaphore: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `value` free permits and no bound: [`release`] may
    /// add permits past `value`. Python: `Semaphore(value)`.
    ///
    /// [`release`]: Semaphore::release
    ///
    /// # Errors
    /// [`Error::Os`] if the shared memory cannot be mapped.
    pub fn new(value: u32) -> Result<Semaphore, Error> {
        Semaphore::with_bound(value, u32::MAX)
    }

    /// A semaphore with `value` free permits that refuses a [`release`]
    /// past `value`. Python: `BoundedSemaphore(value)`.
    ///
    /// [`release`]: Semaphore::release
    ///
    /// # Errors
    /// As [`Semaphore::new`].
    pub fn bounded(value: u32) -> Result<Semaphore, Error> {
        Semaphore::with_bound(value, value)
    }

    fn with_bound(value: u32, bound: u32) -> Result<Semaphore, Error> {
        // Safety: all atomics; zeroed bytes are a valid block, set below
        // before anyone else sees it.
        let block = unsafe { Region::<Block>::new(0, |_| Ok(()))? };
        block.free.store(value, Ordering::Relaxed);
        block.bound.store(bound, Ordering::Relaxed);
        Ok(Semaphore { block })
    }

    /// Takes a permit, waiting as long as it takes. Python:
    /// `semaphore.acquire()`.
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.block.released.wait_until(None, || self.try_take());
        SemaphoreGuard { semaphore: self }
    }

    /// Takes a permit if one is free within `timeout` (`Duration::ZERO`: one
    /// try). Python: `semaphore.acquire(timeout=...)`, `None` for `False`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        let deadline = deadline_after(timeout);
        self.block
            .released
            .wait_until(deadline, || self.try_take())
            .then(|| SemaphoreGuard { semaphore: self })
    }

    /// Gives a permit back, one that a guard's [`SemaphoreGuard::keep`] kept
    /// or that was never taken. Python: `semaphore.release()`.
    ///
    /// # Errors
    /// [`Error::State`] for a bounded semaphore whose permits are all free
    /// already (Python's `ValueError: semaphore or lock released too many
    /// times`).
    pub fn release(&self) -> Result<(), Error> {
        let bound = self.block.bound.load(Ordering::Relaxed);
        self.block
            .free
            .fetch_update(Ordering::Release, Ordering::Relaxed, |free| {
                (free < bound).then_some(free + 1)
            })
            .map_err(|_| Error::State("semaphore released more times than it was acquired"))?;
        self.block.released.notify();
        Ok(())
    }

    /// The permits free now (changing as you read it). Python:
    /// `semaphore.get_value()`.
    pub fn get_value(&self) -> u32 {
        self.block.free.load(Ordering::Relaxed)
    }

    fn try_take(&self) -> bool {
        self.block
            .free
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |free| {
                free.checked_sub(1)
            })
            .is_ok()
    }
}

impl SemaphoreGuard<'_> {
    /// Keeps the permit taken after the guard is gone: give it back later
    /// with [`Semaphore::release`], from this process or another. Python's
    /// `acquire()` without `with`.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        // The permit was taken, so there is room for it under any bound.
        let _ = self.semaphore.release();
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("free", &self.get_value())
            .finish()
    }
}

impl std::fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SemaphoreGuard")
    }
}
