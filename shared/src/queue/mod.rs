//! [`Queue`]: a first-in, first-out channel between any number of forked
//! processes, the counterpart of Python's `multiprocessing.Queue(maxsize)`.
//!
//! # Design
//! Python's Queue is a pipe, a feeder thread in each putting process, two
//! locks and a bounded semaphore. This one has no thread (a thread would stop
//! the process from forking again): `put` writes its frame into the pipe
//! itself.
//! - One `pipe2` carries the frames (the crate's wire format), both ends
//!   non-blocking so that every wait is a `poll(2)` with a deadline. The pipe
//!   is in packet mode (`O_DIRECT`): a small item is one packet, so `get`
//!   reads it, length prefix and all, with one `read(2)` (it may not read
//!   more than its own item: other consumers share the pipe). The cost: each
//!   packet takes one of the pipe's slots (256 in a 1 MiB pipe), however
//!   small the item.
//! - A control block in `MAP_SHARED` anonymous memory, mapped before any fork
//!   and so shared by every process forked afterwards, holds a *write lock*
//!   and a *read lock* (process-shared, robust pthread mutexes: one frame is
//!   written and read whole, however large, and a holder that dies is
//!   noticed instead of blocking everyone forever), a *slots* semaphore
//!   (`maxsize` free places) and an item counter for [`Queue::qsize`].
//! - `put` encodes the item before taking any lock; `get` decodes after
//!   releasing them.
//!
//! A put also waits while the pipe itself is full (1 MiB here), even on an
//! unbounded queue: the data has to be somewhere. In Python it waits in the
//! feeder thread's buffer instead, which is why a Python process that put a
//! large item cannot exit until someone reads it (lesson 04 shows both).
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

mod packet_pipe;
mod shm;

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::packet_pipe::{PAGE, read_frame_until, write_frame_until};
use self::shm::{Locked, SharedBlock};
use crate::error::Error;
use crate::sys::deadline_after;
use crate::wire::{self, WireError};

/// The pipe size asked for (the default is 64 KiB; 1 MiB is what an
/// unprivileged process may ask for by default).
const PIPE_CAPACITY: i32 = 1 << 20;

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
    /// This handle was closed with [`Queue::close`], or no process holds the
    /// writing end any more. Python: `ValueError: Queue is closed`.
    Closed,
    /// A process died in the middle of writing or reading an item: the
    /// stream is torn, so the queue refuses further use. (A process that
    /// dies while it waits breaks nothing.)
    Broken(&'static str),
    /// An item could not be encoded or decoded, or the pipe failed.
    Wire(WireError),
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Full => write!(f, "the queue is full (Python: queue.Full)"),
            QueueError::Empty => write!(f, "the queue is empty (Python: queue.Empty)"),
            QueueError::Closed => write!(f, "the queue is closed"),
            QueueError::Broken(why) => write!(f, "the queue is broken: {why}"),
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

const DIED_WRITING: &str = "a process died while writing an item";
const DIED_READING: &str = "a process died while reading an item";
const TORN: &str = "a process died in the middle of an item";

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
    /// How many packets the pipe holds: one per page of its capacity.
    pipe_slots: usize,
    ends: Option<(File, File)>,
    item_type: PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("maxsize", &self.maxsize)
            .field("open", &self.ends.is_some())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// Makes a queue holding at most `maxsize` items (`0`: no limit but the
    /// pipe's). Python: `multiprocessing.Queue(maxsize)`.
    ///
    /// # Errors
    /// [`Error::State`] if `maxsize` does not fit a semaphore (over
    /// `u32::MAX`); [`Error::Io`] or [`Error::Os`] if the shared memory or
    /// the pipe cannot be made.
    pub fn new(maxsize: usize) -> Result<Queue<T>, Error> {
        // sem_init takes at most SEM_VALUE_MAX, i32::MAX on Linux.
        let start = u32::try_from(maxsize)
            .ok()
            .filter(|&n| i32::try_from(n).is_ok())
            .ok_or(Error::State(
                "maxsize is too large: at most 2147483647 (SEM_VALUE_MAX)",
            ))?;
        let shared = SharedBlock::new(start).map_err(|e| Error::os("mmap", &e))?;
        let (read, write): (OwnedFd, OwnedFd) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_DIRECT)
                .map_err(|e| Error::Os("pipe2", e))?;
        // A larger pipe holds more items before `put` has to wait. Failing to
        // grow it only means the default 64 KiB.
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(PIPE_CAPACITY));
        let capacity = fcntl(&write, FcntlArg::F_GETPIPE_SZ).map_err(|e| Error::Os("fcntl", e))?;
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .and_then(|p| usize::try_from(p).ok())
            .unwrap_or(4096);
        Ok(Queue {
            shared,
            maxsize,
            pipe_slots: usize::try_from(capacity).unwrap_or(0) / page,
            ends: Some((File::from(read), File::from(write))),
            item_type: PhantomData,
        })
    }

    /// Puts `item`, waiting as long as it takes for room. Python: `q.put(item)`.
    ///
    /// # Errors
    /// [`QueueError::Closed`], [`QueueError::Broken`], or
    /// [`QueueError::Wire`] if the item cannot be encoded or the pipe fails.
    pub fn put(&self, item: &T) -> Result<(), QueueError> {
        self.put_until(item, None)
    }

    /// Puts `item`, waiting at most `timeout` for room. Python:
    /// `q.put(item, timeout=t)`.
    ///
    /// The deadline covers the wait for a free place, for the write lock and
    /// for room in the pipe for the *whole* item: a half-written item would
    /// tear the stream for everyone, so it starts only once it fits. An item
    /// larger than the pipe (1 MiB) never fits at once: it gets
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
    /// [`QueueError::Closed`] when this handle is closed or no process can
    /// put any more; [`QueueError::Broken`]; [`QueueError::Wire`] if the item
    /// is not a `T` or the pipe fails.
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
        let (_, writer) = self.ends()?;
        // Encode before taking anything: the lock is held only for the write.
        let frame = wire::encode_frame(item)?;
        let block = &*self.shared;
        if self.maxsize > 0 && !block.slots.wait_until(deadline)? {
            return Err(QueueError::Full);
        }
        let give_back_slot = || {
            if self.maxsize > 0 {
                block.slots.post();
            }
        };
        let _guard = match block.write_lock.lock_until(deadline) {
            Ok(Locked::Held(guard)) => guard,
            Ok(Locked::HolderDied(guard)) => {
                if block.writing.load(Ordering::SeqCst) {
                    block.broken.store(true, Ordering::SeqCst);
                    give_back_slot();
                    return Err(QueueError::Broken(DIED_WRITING));
                }
                // It died waiting for room: it wrote nothing, and the place it
                // had taken is given back for it.
                give_back_slot();
                guard
            }
            Ok(Locked::TimedOut) => {
                give_back_slot();
                return Err(QueueError::Full);
            }
            Err(e) => {
                give_back_slot();
                return Err(e.into());
            }
        };
        // With a deadline, wait until the whole item fits: once its first
        // byte is in, the rest must follow, whatever the time.
        if let Some(deadline) = deadline
            && !self.wait_until_it_fits(frame.len(), deadline)
        {
            give_back_slot();
            return Err(QueueError::Full);
        }
        let written = write_frame_until(writer, &frame, deadline, block);
        match written {
            Ok(true) => {
                block.items.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Ok(false) => {
                give_back_slot();
                Err(QueueError::Full)
            }
            Err(e) => {
                give_back_slot();
                Err(e)
            }
        }
    }

    /// Waits until `len` bytes of frame fit in the pipe as a whole, or until
    /// `deadline`. A frame takes one packet per page (pipe(7), packet mode).
    fn wait_until_it_fits(&self, len: usize, deadline: Instant) -> bool {
        let needed = len.div_ceil(PAGE);
        loop {
            let taken = self.shared.packets.load(Ordering::SeqCst);
            if taken + needed <= self.pipe_slots {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, QueueError> {
        let (reader, _) = self.ends()?;
        let block = &*self.shared;
        let guard = match block.read_lock.lock_until(deadline)? {
            Locked::Held(guard) => guard,
            Locked::TimedOut => return Err(QueueError::Empty),
            Locked::HolderDied(guard) => {
                if block.reading.load(Ordering::SeqCst) {
                    block.broken.store(true, Ordering::SeqCst);
                    return Err(QueueError::Broken(DIED_READING));
                }
                // It died waiting for an item: it took nothing.
                guard
            }
        };
        let frame = read_frame_until(reader, deadline, block);
        if let Ok(Some(_)) = frame {
            block.items.fetch_sub(1, Ordering::SeqCst);
            if self.maxsize > 0 {
                // Posted before the read lock is released, so a reader that
                // dies cannot lose a slot here.
                block.slots.post();
            }
        }
        drop(guard);
        match frame? {
            // Decode after releasing the lock.
            Some(payload) => Ok(postcard::from_bytes(&payload).map_err(WireError::Decode)?),
            None => Err(QueueError::Empty),
        }
    }

    /// Items put and not yet taken, across all processes. Python:
    /// `q.qsize()` (also approximate there: others may put or get meanwhile).
    pub fn qsize(&self) -> usize {
        usize::try_from(self.shared.items.load(Ordering::SeqCst)).unwrap_or(0)
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

    /// How many bytes the pipe holds before a `put` must wait for a `get`.
    ///
    /// # Errors
    /// [`QueueError::Closed`] after [`Queue::close`]; the error of
    /// `fcntl(F_GETPIPE_SZ)`.
    pub fn pipe_capacity(&self) -> Result<usize, QueueError> {
        let (_, writer) = self.ends()?;
        let n = fcntl(writer, FcntlArg::F_GETPIPE_SZ).map_err(io::Error::from)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Closes this process's handle: later calls on it return
    /// [`QueueError::Closed`]. Other processes' handles stay open. Python:
    /// `q.close()`.
    pub fn close(&mut self) {
        self.ends = None;
    }

    fn ends(&self) -> Result<(&File, &File), QueueError> {
        if self.shared.broken.load(Ordering::SeqCst) {
            return Err(QueueError::Broken(TORN));
        }
        self.ends
            .as_ref()
            .map(|(r, w)| (r, w))
            .ok_or(QueueError::Closed)
    }
}
