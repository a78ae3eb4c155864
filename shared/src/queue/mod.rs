//! [`Queue`]: a first-in, first-out channel between any number of forked
//! processes, the counterpart of Python's `multiprocessing.Queue(maxsize)`.
//!
//! # Design
//! Python's Queue is a pipe, a feeder thread in each putting process, two
//! locks and a bounded semaphore. This one has no thread (a thread would stop
//! the process from forking again) and no pipe: the items go through a ring
//! of 1 MiB in `MAP_SHARED` anonymous memory, mapped before any fork and so
//! shared by every process forked afterwards, beside a control block.
//! - One producer writes at a time and one consumer reads at a time, each
//!   under a process-shared, *robust* lock: a holder that dies is noticed by
//!   the next one instead of blocking everyone forever.
//! - Waits (for an item, for room) sleep on a futex in the shared memory,
//!   with a deadline: no system call at all while neither side has to wait.
//! - Every count (where the next item goes, items put, items taken) lives
//!   in two words, each changed by the one store that also publishes or
//!   takes the data: `qsize`, the bound and the ring's contents cannot drift
//!   apart, wherever a process is killed (`ring.rs` says how).
//! - `put` encodes the item before taking the lock; `get` decodes after
//!   releasing it. An item larger than a record (64 KiB) is several
//!   records; one larger than the ring streams through as it is read.
//!
//! # What it costs
//! A `put` that finds room and a `get` that finds an item make no system
//! call: each takes its side's robust lock, copies the record, moves its
//! position word, and checks whether anyone sleeps. Each side reads the
//! other side's position only when its last view of it shows no room (or
//! no item), and the control block keeps each word on cache lines of its
//! own, so the two CPUs pass few lines back and forth. A side sleeps on a
//! futex only after spinning for about 20 µs (what a wake-up costs here).
//! Measured one to one between two processes (`cargo xtask bench`, the
//! published run): 9.7 M small items/s unbounded, 7.6 M with `maxsize` 3;
//! crossbeam's channel between two threads of one process, 31 M and 1.3 M;
//! CPython's Queue, 0.24 M and 0.05 M. Large items are copied into the ring
//! and out in records of up to 64 KiB: 0.5 to 1.1 GB/s from 256 KiB up.
//!
//! # What a kill may lose
//! A process killed at any point (SIGKILL, the OOM killer, `terminate()` of
//! a busy consumer) loses at most the item it held: the one a consumer had
//! begun to take (Python loses it too), or the one a producer had begun to
//! put (never seen by anyone). Nothing else changes: every other item is
//! delivered exactly once, `qsize` stays exact, a bounded queue holds
//! exactly `maxsize` items, and every later `put` and `get` works. A process
//! killed while it waits (for an item, for room, for a lock) loses nothing.
//!
//! A put also waits while the ring is full, even on an unbounded queue: the
//! data has to be somewhere. In Python it waits in the feeder thread's
//! buffer instead, which is why a Python process that put a large item
//! cannot exit until someone reads it (lesson 04 shows both).
//!
//! A `Queue` is shared by inheritance: make it, then fork. It is not
//! `Serialize`, so it cannot be a [`crate::Pool`] task's argument, the
//! compile-time counterpart of Python's "Queue objects should only be shared
//! between processes through inheritance":
//!
//! ```compile_fail,E0277
//! use multiproc::{Pool, Queue};
//! fn use_queue(q: Queue<u32>) {}
//! let pool = Pool::new(1).unwrap();
//! let queue = Queue::<u32>::new(3).unwrap();
//! pool.apply_async(use_queue, queue); // error: Queue<u32> is not Serialize
//! ```

mod ring;
mod shm;

use std::io;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::shm::{RING, SharedBlock};
use crate::error::Error;
use crate::sys::deadline_after;
use crate::wire::{MAX_FRAME, WireError};

/// Why a queue operation did not deliver an item.
///
/// ```
/// use std::time::Duration;
/// use multiproc::{Queue, QueueError};
///
/// let queue: Queue<u32> = Queue::new(1)?;
/// queue.put(&1)?;
/// assert!(matches!(queue.put_timeout(&2, Duration::from_millis(10)), Err(QueueError::Full)));
/// assert_eq!(queue.get()?, 1);
/// assert!(matches!(queue.get_nowait(), Err(QueueError::Empty)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue stayed full until the deadline. Python: `queue.Full`.
    #[doc(alias = "queue.Full")]
    Full,
    /// The queue stayed empty until the deadline. Python: `queue.Empty`.
    #[doc(alias = "queue.Empty")]
    Empty,
    /// This handle was closed with [`Queue::close`]. Python: `ValueError:
    /// Queue is closed`.
    Closed,
    /// An item could not be encoded or decoded, or a lock failed.
    Wire(WireError),
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Full => write!(f, "the queue is full (Python: queue.Full)"),
            QueueError::Empty => write!(f, "the queue is empty (Python: queue.Empty)"),
            QueueError::Closed => write!(f, "the queue is closed"),
            QueueError::Wire(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QueueError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueueError::Wire(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WireError> for QueueError {
    fn from(e: WireError) -> Self {
        QueueError::Wire(e)
    }
}

impl From<io::Error> for QueueError {
    fn from(e: io::Error) -> Self {
        QueueError::Wire(WireError::Io(e))
    }
}

impl From<Error> for QueueError {
    /// An error of the crate's plumbing (a failed `poll`) during a queue
    /// call; the original stays reachable as the source.
    fn from(e: Error) -> Self {
        QueueError::Wire(WireError::from(e))
    }
}

/// A multi-producer, multi-consumer queue between forked processes. See the
/// [module documentation](self).
///
/// Python counterpart: `multiprocessing.Queue(maxsize)`.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork.
/// use multiproc::{Process, Queue};
///
/// let queue: Queue<String> = Queue::new(3)?;
/// let mut child = Process::start(|| queue.put(&"made in the child".to_string()).unwrap())?;
/// assert_eq!(queue.get()?, "made in the child");
/// child.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "multiprocessing.Queue")]
pub struct Queue<T> {
    shared: SharedBlock,
    maxsize: usize,
    /// False once this handle was closed.
    open: bool,
    item_type: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("maxsize", &self.maxsize)
            .field("open", &self.open)
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// Makes a queue holding at most `maxsize` items (`0`: no limit but the
    /// ring's 1 MiB). Python: `multiprocessing.Queue(maxsize)`.
    ///
    /// # Errors
    /// [`Error::State`] if `maxsize` is over what the queue counts (8 388 607
    /// items); [`Error::Os`] if the shared memory cannot be made.
    pub fn new(maxsize: usize) -> Result<Queue<T>, Error> {
        if maxsize > MAX_ITEMS {
            return Err(Error::State(
                "maxsize is too large: a Queue counts at most 8388607 items",
            ));
        }
        let shared = SharedBlock::new().map_err(|e| Error::os("mmap", &e))?;
        Ok(Queue {
            shared,
            maxsize,
            open: true,
            item_type: PhantomData,
        })
    }

    /// Puts `item`, waiting as long as it takes for room. Python: `q.put(item)`.
    ///
    /// # Errors
    /// [`QueueError::Closed`], or [`QueueError::Wire`] if the item cannot be
    /// encoded (or is over [`MAX_FRAME`]) or a lock fails.
    pub fn put(&self, item: &T) -> Result<(), QueueError> {
        self.put_until(item, None)
    }

    /// Puts `item`, waiting at most `timeout` for room. Python:
    /// `q.put(item, timeout=t)`.
    ///
    /// The deadline covers the wait for a free place, for the lock and for
    /// room in the ring for the *whole* item: once its first bytes are in,
    /// the rest must follow, so it starts only once it fits. An item larger
    /// than the ring (1 MiB) never fits at once: it gets
    /// [`QueueError::Full`] at the deadline, and only [`Queue::put`] can
    /// stream it to a reader. (Python's feeder thread buffers it instead.)
    ///
    /// # Errors
    /// [`QueueError::Full`] at the deadline, and those of [`Queue::put`].
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), QueueError> {
        self.put_until(item, deadline_after(timeout))
    }

    /// Puts `item` only if there is room now. Python: `q.put_nowait(item)`.
    ///
    /// # Errors
    /// As [`Queue::put_timeout`].
    pub fn put_nowait(&self, item: &T) -> Result<(), QueueError> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Takes the next item, waiting as long as it takes. Python: `q.get()`.
    ///
    /// # Errors
    /// [`QueueError::Closed`] when this handle is closed; [`QueueError::Wire`]
    /// if the item is not a `T` or a lock fails. Like Python's, a `get` on a
    /// queue that nobody will put to again waits as long as it is told to.
    pub fn get(&self) -> Result<T, QueueError> {
        self.get_until(None)
    }

    /// Takes the next item, waiting at most `timeout`. Python:
    /// `q.get(timeout=t)`.
    ///
    /// # Errors
    /// [`QueueError::Empty`] at the deadline, and those of [`Queue::get`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, QueueError> {
        self.get_until(deadline_after(timeout))
    }

    /// Takes the next item only if one is there now. Python: `q.get_nowait()`.
    ///
    /// # Errors
    /// As [`Queue::get_timeout`].
    pub fn get_nowait(&self) -> Result<T, QueueError> {
        self.get_until(Some(Instant::now()))
    }

    fn put_until(&self, item: &T, deadline: Option<Instant>) -> Result<(), QueueError> {
        self.check_open()?;
        // Encode before taking anything: the lock is held only for the copy.
        let bytes = postcard::to_allocvec(item).map_err(WireError::Encode)?;
        if bytes.len() > MAX_FRAME {
            return Err(WireError::TooLargeToSend {
                len: bytes.len(),
                max: MAX_FRAME,
            }
            .into());
        }
        ring::put(&self.shared, &bytes, deadline, self.maxsize)
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, QueueError> {
        self.check_open()?;
        let bytes = ring::get(&self.shared, deadline)?;
        // Decoded after the lock is released.
        Ok(postcard::from_bytes(&bytes).map_err(WireError::Decode)?)
    }

    /// Items put and not yet taken, across all processes. Python:
    /// `q.qsize()` (also approximate there: others may put or get meanwhile).
    /// Exact whatever process was killed: see the module's "What a kill may
    /// lose".
    pub fn qsize(&self) -> usize {
        ring::qsize(&self.shared)
    }

    /// True if no item is waiting. Python: `q.empty()`.
    #[doc(alias = "empty")]
    pub fn is_empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True if a bounded queue holds `maxsize` items. Python: `q.full()`.
    #[doc(alias = "full")]
    pub fn is_full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }

    /// The queue's bound (0 for none). Python: `q._maxsize`.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// How many bytes of items (with a few bytes of framing each) the queue
    /// holds before a `put` must wait for a `get`, whatever its `maxsize`.
    /// Python has no such number: its feeder thread buffers without bound.
    pub fn capacity_bytes(&self) -> usize {
        RING
    }

    /// Closes this process's handle: later calls on it return
    /// [`QueueError::Closed`]. Other processes' handles stay open. Python:
    /// `q.close()`.
    pub fn close(&mut self) {
        self.open = false;
    }

    fn check_open(&self) -> Result<(), QueueError> {
        if self.open {
            Ok(())
        } else {
            Err(QueueError::Closed)
        }
    }
}

/// The most items a queue counts (its counters' width).
const MAX_ITEMS: usize = (1 << 23) - 1;
