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
//! ```compile_fail
//! use multiproc::{Pool, Queue};
//! fn use_queue(q: Queue<u32>) {}
//! let pool = Pool::new(1).unwrap();
//! let queue = Queue::<u32>::new(3).unwrap();
//! pool.apply_async(use_queue, queue); // error: Queue<u32> is not Serialize
//! ```

use std::fs::File;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::sys::{poll_fds, realtime_deadline};
use crate::wire::{MAX_FRAME, WireError};

/// The pipe size asked for (the default is 64 KiB; 1 MiB is what an
/// unprivileged process may ask for by default).
const PIPE_CAPACITY: i32 = 1 << 20;

/// While a frame is only partly there, how often to check whether its writer
/// died.
const STALL_CHECK: Duration = Duration::from_millis(100);

/// Why a queue operation did not deliver an item.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue stayed full until the deadline. Python: `queue.Full`.
    Full,
    /// The queue stayed empty until the deadline. Python: `queue.Empty`.
    Empty,
    /// This handle was closed with [`Queue::close`], or no process holds the
    /// writing end any more. Python: `ValueError: Queue is closed`.
    Closed,
    /// A process died while writing or reading a frame: the stream may be
    /// torn, so the queue refuses further use.
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

impl std::error::Error for QueueError {}

impl From<WireError> for QueueError {
    fn from(e: WireError) -> Self {
        QueueError::Wire(e)
    }
}

/// The part every process shares, in `MAP_SHARED` memory.
#[repr(C)]
struct ControlBlock {
    write_lock: libc::pthread_mutex_t,
    read_lock: libc::pthread_mutex_t,
    /// Free places, when the queue is bounded.
    slots: libc::sem_t,
    /// Items put and not yet got.
    items: AtomicUsize,
    /// Set when a process died holding a lock.
    broken: AtomicBool,
}

/// A multi-producer, multi-consumer queue between forked processes. See the
/// [module documentation](self).
///
/// Python counterpart: `multiprocessing.Queue(maxsize)`.
pub struct Queue<T> {
    shared: NonNull<ControlBlock>,
    maxsize: usize,
    ends: Option<(File, File)>,
    item_type: PhantomData<fn(T) -> T>,
}

// Safety: the control block's primitives are process-shared and therefore
// thread-safe too; the pipe ends are plain descriptors used through `&File`.
// Nothing in a `Queue` is tied to the thread that made it.
unsafe impl<T> Send for Queue<T> {}
// Safety: as above; every method takes `&self` and synchronises through the
// process-shared locks.
unsafe impl<T> Sync for Queue<T> {}

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
    pub fn new(maxsize: usize) -> Result<Queue<T>, Error> {
        let size = std::mem::size_of::<ControlBlock>();
        // Safety: an anonymous shared mapping of `size` bytes, no file, no
        // fixed address; the result is checked against MAP_FAILED.
        let memory = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if memory == libc::MAP_FAILED {
            return Err(Error::Io(io::Error::last_os_error()));
        }
        let shared =
            NonNull::new(memory.cast::<ControlBlock>()).expect("mmap returned a non-null address");
        // Safety: `shared` points to `size` writable, zeroed bytes that no
        // other process or thread can see yet; each primitive is initialised
        // in place before any use, and the init calls' results are checked.
        unsafe {
            let block = shared.as_ptr();
            init_robust_shared_mutex(&raw mut (*block).write_lock)?;
            init_robust_shared_mutex(&raw mut (*block).read_lock)?;
            let start = u32::try_from(maxsize).map_err(|_| Error::State("maxsize is too large"))?;
            if libc::sem_init(&raw mut (*block).slots, 1, start) != 0 {
                return Err(Error::Io(io::Error::last_os_error()));
            }
            (&raw mut (*block).items).write(AtomicUsize::new(0));
            (&raw mut (*block).broken).write(AtomicBool::new(false));
        }
        let (read, write): (OwnedFd, OwnedFd) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_DIRECT)
                .map_err(|e| Error::Os("pipe2", e))?;
        // A larger pipe holds more items before `put` has to wait. Failing to
        // grow it only means the default 64 KiB.
        // Safety: fcntl on a descriptor we own, with an integer argument.
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_CAPACITY) };
        Ok(Queue {
            shared,
            maxsize,
            ends: Some((File::from(read), File::from(write))),
            item_type: PhantomData,
        })
    }

    /// Puts `item`, waiting as long as it takes for room. Python: `q.put(item)`.
    pub fn put(&self, item: &T) -> Result<(), QueueError> {
        self.put_until(item, None)
    }

    /// Puts `item`, waiting at most `timeout` for room; [`QueueError::Full`]
    /// after that. Python: `q.put(item, timeout=t)`.
    ///
    /// The deadline covers the wait for a free place, for the write lock and
    /// for room in the pipe; once the first byte of the item is written, the
    /// rest follows whatever the time (a half-written item would tear the
    /// stream for everyone).
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), QueueError> {
        self.put_until(item, Some(Instant::now() + timeout))
    }

    /// Puts `item` only if there is room now. Python: `q.put_nowait(item)`.
    pub fn put_nowait(&self, item: &T) -> Result<(), QueueError> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Takes the next item, waiting as long as it takes. Python: `q.get()`.
    pub fn get(&self) -> Result<T, QueueError> {
        self.get_until(None)
    }

    /// Takes the next item, waiting at most `timeout`; [`QueueError::Empty`]
    /// after that. Python: `q.get(timeout=t)`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, QueueError> {
        self.get_until(Some(Instant::now() + timeout))
    }

    /// Takes the next item only if one is there now. Python: `q.get_nowait()`.
    pub fn get_nowait(&self) -> Result<T, QueueError> {
        self.get_until(Some(Instant::now()))
    }

    fn put_until(&self, item: &T, deadline: Option<Instant>) -> Result<(), QueueError> {
        let (_, writer) = self.ends()?;
        // Encode before taking anything: the lock is held only for the write.
        let mut frame = postcard::to_extend(item, vec![0u8; 4]).map_err(WireError::Encode)?;
        let len = frame.len() - 4;
        if len > MAX_FRAME {
            return Err(WireError::TooLarge {
                len,
                max: MAX_FRAME,
            }
            .into());
        }
        frame[..4].copy_from_slice(&(len as u32).to_be_bytes());

        if self.maxsize > 0 && !self.wait_slot(deadline)? {
            return Err(QueueError::Full);
        }
        let give_back_slot = || {
            if self.maxsize > 0 {
                // Safety: `slots` was initialised in `new`; sem_post is safe
                // to call from any process that maps it.
                unsafe { libc::sem_post(&raw mut (*self.shared.as_ptr()).slots) };
            }
        };
        let block = self.block();
        let lock = &raw const block.write_lock as *mut libc::pthread_mutex_t;
        match lock_until(lock, deadline, &block.broken)? {
            true => {}
            false => {
                give_back_slot();
                return Err(QueueError::Full);
            }
        }
        block.items.fetch_add(1, Ordering::SeqCst);
        let written = write_frame_until(writer, &frame, deadline);
        if !matches!(written, Ok(true)) {
            block.items.fetch_sub(1, Ordering::SeqCst);
            give_back_slot();
        }
        unlock(lock);
        match written {
            Ok(true) => Ok(()),
            Ok(false) => Err(QueueError::Full),
            Err(e) => Err(e),
        }
    }

    fn get_until(&self, deadline: Option<Instant>) -> Result<T, QueueError> {
        let (reader, _) = self.ends()?;
        let block = self.block();
        let lock = &raw const block.read_lock as *mut libc::pthread_mutex_t;
        if !lock_until(lock, deadline, &block.broken)? {
            return Err(QueueError::Empty);
        }
        let frame = read_frame_until(reader, deadline, block);
        if let Ok(Some(_)) = frame {
            block.items.fetch_sub(1, Ordering::SeqCst);
            if self.maxsize > 0 {
                // Safety: see `give_back_slot`. Posted before the read lock is
                // released, so a reader that dies cannot lose a slot here.
                unsafe { libc::sem_post(&raw const block.slots as *mut libc::sem_t) };
            }
        }
        unlock(lock);
        match frame? {
            // Decode after releasing the lock.
            Some(payload) => Ok(postcard::from_bytes(&payload).map_err(WireError::Decode)?),
            None => Err(QueueError::Empty),
        }
    }

    /// Waits for a free place; false at the deadline.
    fn wait_slot(&self, deadline: Option<Instant>) -> Result<bool, QueueError> {
        let slots = &raw const self.block().slots as *mut libc::sem_t;
        loop {
            // Safety: `slots` was initialised in `new` and stays mapped while
            // `self` lives; the timespec is a valid local.
            let result = unsafe {
                match deadline {
                    None => libc::sem_wait(slots),
                    Some(d) if d <= Instant::now() => libc::sem_trywait(slots),
                    Some(d) => libc::sem_timedwait(slots, &realtime_deadline(d)),
                }
            };
            if result == 0 {
                return Ok(true);
            }
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT) | Some(libc::EAGAIN) => return Ok(false),
                _ => return Err(WireError::Io(io::Error::last_os_error()).into()),
            }
        }
    }

    /// Items put and not yet taken, across all processes. Python:
    /// `q.qsize()` (also approximate there: others may put or get meanwhile).
    pub fn qsize(&self) -> usize {
        self.block().items.load(Ordering::SeqCst)
    }

    /// True if no item is waiting. Python: `q.empty()`.
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// True if a bounded queue holds `maxsize` items. Python: `q.full()`.
    pub fn full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }

    /// The queue's bound (0 for none). Python: `q._maxsize`.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// How many bytes the pipe holds before a `put` must wait for a `get`.
    pub fn pipe_capacity(&self) -> Result<usize, QueueError> {
        let (_, writer) = self.ends()?;
        // Safety: fcntl F_GETPIPE_SZ on a descriptor we own.
        let n = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_GETPIPE_SZ) };
        usize::try_from(n).map_err(|_| WireError::Io(io::Error::last_os_error()).into())
    }

    /// Closes this process's handle: later calls on it return
    /// [`QueueError::Closed`]. Other processes' handles stay open. Python:
    /// `q.close()`.
    pub fn close(&mut self) {
        self.ends = None;
    }

    fn ends(&self) -> Result<(&File, &File), QueueError> {
        if self.block().broken.load(Ordering::SeqCst) {
            return Err(QueueError::Broken(
                "a process died holding one of its locks",
            ));
        }
        self.ends
            .as_ref()
            .map(|(r, w)| (r, w))
            .ok_or(QueueError::Closed)
    }

    fn block(&self) -> &ControlBlock {
        // Safety: the mapping lives until `drop`, and every field is either
        // atomic or touched only through the libc calls that own it.
        unsafe { self.shared.as_ref() }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        // Only this process's mapping goes; the memory lives on while other
        // processes map it. The primitives are not destroyed for that reason.
        // Safety: `shared` came from mmap with this size and is not used
        // after this.
        unsafe {
            libc::munmap(
                self.shared.as_ptr().cast(),
                std::mem::size_of::<ControlBlock>(),
            )
        };
    }
}

/// Initialises a pthread mutex that works across processes and reports a
/// holder's death (`EOWNERDEAD`) to the next locker.
///
/// Safety: `mutex` must point to writable memory for a `pthread_mutex_t`
/// that no one else uses yet.
unsafe fn init_robust_shared_mutex(mutex: *mut libc::pthread_mutex_t) -> Result<(), Error> {
    // Safety: the attribute object is a local, initialised before use and
    // destroyed after; `mutex` is valid per this function's contract.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        let mut rc = libc::pthread_mutexattr_init(&mut attr);
        if rc == 0 {
            rc = libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        }
        if rc == 0 {
            rc = libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
        }
        if rc == 0 {
            rc = libc::pthread_mutex_init(mutex, &attr);
        }
        libc::pthread_mutexattr_destroy(&mut attr);
        if rc != 0 {
            return Err(Error::Io(io::Error::from_raw_os_error(rc)));
        }
    }
    Ok(())
}

/// Locks `mutex` before `deadline`: Ok(false) at the deadline. If the last
/// holder died, marks the queue broken and fails.
fn lock_until(
    mutex: *mut libc::pthread_mutex_t,
    deadline: Option<Instant>,
    broken: &AtomicBool,
) -> Result<bool, QueueError> {
    // Safety: `mutex` is an initialised process-shared mutex in the mapped
    // control block; the timespec is a valid local.
    let rc = unsafe {
        match deadline {
            None => libc::pthread_mutex_lock(mutex),
            Some(d) if d <= Instant::now() => libc::pthread_mutex_trylock(mutex),
            Some(d) => libc::pthread_mutex_timedlock(mutex, &realtime_deadline(d)),
        }
    };
    match rc {
        0 => Ok(true),
        libc::ETIMEDOUT | libc::EBUSY => Ok(false),
        libc::EOWNERDEAD => {
            owner_died(mutex, broken);
            Err(QueueError::Broken(
                "a process died holding one of its locks",
            ))
        }
        other => Err(WireError::Io(io::Error::from_raw_os_error(other)).into()),
    }
}

/// The lock's last holder died: make the lock usable again, but mark the
/// queue broken, since that holder may have left half a frame in the pipe.
fn owner_died(mutex: *mut libc::pthread_mutex_t, broken: &AtomicBool) {
    broken.store(true, Ordering::SeqCst);
    // Safety: we hold the mutex (EOWNERDEAD hands it over, inconsistent).
    unsafe {
        libc::pthread_mutex_consistent(mutex);
        libc::pthread_mutex_unlock(mutex);
    }
}

fn unlock(mutex: *mut libc::pthread_mutex_t) {
    // Safety: called only by the holder, after a successful lock.
    unsafe { libc::pthread_mutex_unlock(mutex) };
}

/// Writes a whole frame to the non-blocking pipe. Ok(false) if the deadline
/// passed before the first byte went in.
fn write_frame_until(
    mut writer: &File,
    frame: &[u8],
    deadline: Option<Instant>,
) -> Result<bool, QueueError> {
    let mut written = 0;
    while written < frame.len() {
        match writer.write(&frame[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Until the first byte, the caller's deadline; after it, none.
                let wait_until = if written == 0 { deadline } else { None };
                if !poll_fds(&[(writer.as_raw_fd(), libc::POLLOUT)], wait_until)?[0] {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Err(WireError::BrokenPipe.into());
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    }
    Ok(true)
}

/// Reads one whole frame from the non-blocking, packet-mode pipe. Ok(None)
/// if no frame began before the deadline. The pipe is in packet mode
/// (`O_DIRECT`): each read returns one packet of at most `PIPE_BUF` bytes,
/// and a frame's first packet holds its first `PIPE_BUF` bytes, so a small
/// item costs one `read(2)`, prefix and all. Once a frame has begun, it is
/// read to its end whatever the time; while it is only partly there, every
/// 100 ms the reader checks whether its writer died.
fn read_frame_until(
    mut reader: &File,
    deadline: Option<Instant>,
    block: &ControlBlock,
) -> Result<Option<Vec<u8>>, QueueError> {
    // A whole packet: reading less would throw the rest of it away.
    let mut first = [0u8; libc::PIPE_BUF];
    let got = loop {
        match reader.read(&mut first) {
            Ok(0) => return Err(QueueError::Closed),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !poll_fds(&[(reader.as_raw_fd(), libc::POLLIN)], deadline)?[0] {
                    return Ok(None);
                }
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    };
    let torn = |why: WireError| -> QueueError {
        // Only a torn stream gives these: no writer sends such a packet.
        block.broken.store(true, Ordering::SeqCst);
        why.into()
    };
    if got < 4 {
        return Err(torn(WireError::Truncated { expected: 4, got }));
    }
    let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize;
    if len > MAX_FRAME {
        return Err(torn(WireError::TooLarge {
            len,
            max: MAX_FRAME,
        }));
    }
    if got - 4 > len {
        return Err(torn(WireError::Truncated {
            expected: 4 + len,
            got,
        }));
    }
    let mut payload = vec![0u8; len];
    payload[..got - 4].copy_from_slice(&first[4..got]);
    // The rest comes in packets of this frame only, each no larger than
    // what is left, so reading straight into the payload loses nothing.
    fill_started(reader, &mut payload[got - 4..], block, got)?;
    Ok(Some(payload))
}

/// Fills the rest of a frame that has begun (`before` bytes of it came
/// already): no deadline, but a check on the writer every 100 ms.
fn fill_started(
    mut reader: &File,
    buf: &mut [u8],
    block: &ControlBlock,
    before: usize,
) -> Result<(), QueueError> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => {
                block.broken.store(true, Ordering::SeqCst);
                return Err(WireError::Truncated {
                    expected: before + buf.len(),
                    got: before + got,
                }
                .into());
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let tick = Some(Instant::now() + STALL_CHECK);
                if !poll_fds(&[(reader.as_raw_fd(), libc::POLLIN)], tick)?[0] {
                    check_writer_alive(block)?;
                }
            }
            Err(e) => return Err(WireError::Io(e).into()),
        }
    }
    Ok(())
}

/// A frame is half there and nothing more arrived for a while: if its writer
/// died (the write lock's owner is gone), the queue is broken.
fn check_writer_alive(block: &ControlBlock) -> Result<(), QueueError> {
    let lock = &raw const block.write_lock as *mut libc::pthread_mutex_t;
    // Safety: an initialised process-shared mutex in the mapped block.
    match unsafe { libc::pthread_mutex_trylock(lock) } {
        libc::EOWNERDEAD => {
            owner_died(lock, &block.broken);
            Err(QueueError::Broken("a process died while writing an item"))
        }
        0 => {
            unlock(lock);
            Ok(())
        }
        _ => Ok(()), // Held: the writer is still writing.
    }
}

impl From<Error> for QueueError {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => QueueError::Wire(WireError::Io(io)),
            Error::Wire(w) => QueueError::Wire(w),
            other => QueueError::Wire(WireError::Io(io::Error::other(other.to_string()))),
        }
    }
}
