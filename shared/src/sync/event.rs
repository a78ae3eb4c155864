//! [`Event`]: a flag that processes wait for.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::Region;
use crate::error::Error;
use crate::futex::Notifier;
use crate::sys::deadline_after;

#[repr(C)]
struct Block {
    /// 1 while set.
    flag: AtomicU32,
    /// Told when the flag is set.
    set: Notifier,
}

/// A flag that processes share: `wait` returns once it is set. Python:
/// `multiprocessing.Event()`.
///
/// ```standalone_crate
/// use multiproc::{Event, Process};
/// use std::time::Duration;
///
/// let go = Event::new().unwrap();
/// let mut child = Process::start_with_code(|| i32::from(!go.wait_timeout(Duration::from_secs(5))))
///     .unwrap();
/// go.set();
/// assert_eq!(child.join().unwrap(), 0, "the child saw the flag");
/// ```
#[doc(alias = "multiprocessing.Event")]
pub struct Event {
    block: Region<Block>,
}

impl Event {
    /// A new event, not set.
    ///
    /// # Errors
    /// [`Error::Os`] if the shared memory cannot be mapped.
    pub fn new() -> Result<Event, Error> {
        // Safety: all atomics; zeroed bytes are a valid block: not set, no
        // sleeper.
        let block = unsafe { Region::<Block>::new(0, |_| Ok(()))? };
        Ok(Event { block })
    }

    /// Sets the flag and wakes every waiter. Python: `event.set()`.
    pub fn set(&self) {
        self.block.flag.store(1, Ordering::Release);
        self.block.set.notify();
    }

    /// Clears the flag: later waits wait again. Python: `event.clear()`.
    pub fn clear(&self) {
        self.block.flag.store(0, Ordering::Release);
    }

    /// Whether the flag is set now. Python: `event.is_set()`.
    pub fn is_set(&self) -> bool {
        self.block.flag.load(Ordering::Acquire) == 1
    }

    /// Waits as long as it takes for the flag. Python: `event.wait()`.
    pub fn wait(&self) {
        self.block.set.wait_until(None, || self.is_set());
    }

    /// Waits at most `timeout` for the flag, and returns whether it is set.
    /// Python: `event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.block
            .set
            .wait_until(deadline_after(timeout), || self.is_set())
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
