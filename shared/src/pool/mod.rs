//! [`Pool`]: a fixed set of forked worker processes that run tasks, the
//! counterpart of Python's `multiprocessing.Pool` and of
//! `concurrent.futures.ProcessPoolExecutor`.
//!
//! # Design
//! CPython's Pool runs three helper threads in the parent (task handler,
//! result handler, worker handler) around two shared queues: idle workers
//! pull the next task from one queue, so a task goes to the first free
//! worker. This pool keeps that schedule without a helper thread: the tasks
//! go into one shared pipe that free workers read, each worker answers on
//! its own socket, and the parent does the bookkeeping itself whenever it
//! waits for a result (in [`AsyncResult::get`], [`as_completed`],
//! [`Pool::join`]): write what fits, `poll(2)`, store what arrived. Everything
//! happens on the parent's own thread, so the parent stays single-threaded
//! and can go on forking. Nothing in it blocks on a write, so no size of
//! argument or result can deadlock it (`scheduler.rs` says how).
//!
//! A task names a plain function, `fn(A) -> R`. A forked worker is a copy of
//! the parent's memory image, so the function's address means the same code in
//! the worker; the argument and the result cross the socket as postcard
//! frames. Only non-capturing functions and closures coerce to `fn`, so no
//! borrowed state can be smuggled along.
//!
//! Errors are values: a task that panics gives [`TaskError::Panicked`] with the
//! worker's message, and the worker goes on serving; a worker that dies mid-task
//! (say, `SIGKILL`) fails that task with [`TaskError::WorkerDied`] and is
//! replaced. CPython's `Pool` hangs forever in that case.

//!
//! # What it costs
//! Each task is a packet into the task pipe and a frame back on a socket:
//! a few µs of system calls, shared between the parent and a worker. With
//! tasks that do no work the parent is the bottleneck, so more workers than
//! CPUs cannot help; they must not hurt either. They did: every packet
//! woke an idle worker, which preempted the parent handing out the next
//! ones (20 000 empty tasks, chunksize 1, 2 CPUs: 8 workers made 17 800
//! context switches and 128 k tasks/s, 2 workers 600 and 260 k/s). With
//! more workers than CPUs, the workers now run as `SCHED_BATCH`: a woken
//! worker waits for the parent's turn to end, so the parent fills the pipe
//! and the workers drain it in runs (about 300 switches; 8 workers 330 k to
//! 410 k tasks/s in alternating runs of `bench pool`). With no more workers
//! than CPUs they keep the normal policy: nothing to gain there, and a
//! batch worker, which never preempts, starts late beside other programs'
//! busy processes. A task that does real work (1 ms and up) is not
//! measurably changed. `chunksize` still divides the per-task cost: `cargo
//! xtask bench` shows by how much.
//!
//! # Rooms
//! - this file: the public face, run in the parent ([`Pool`], [`TaskError`]);
//! - `handle.rs`: [`AsyncResult`], the parent's handle to one result;
//! - `scheduler.rs`: the parent's bookkeeping: the task pipe, the workers'
//!   sockets, which task is where;
//! - `slots.rs`: one shared word per worker, the task it runs;
//! - `worker.rs`: the code that runs inside a worker process, and the
//!   messages both sides speak;
//! - `imap.rs`: [`as_completed`] and the `imap` iterators, in the parent.

mod handle;
mod imap;
mod scheduler;
mod slots;
mod worker;

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::handle::AsyncResult;
use self::imap::ChunkHandle;
pub use self::imap::{IMap, IMapUnordered, as_completed};
use self::scheduler::State;
use self::worker::{Trampoline, chunk_trampoline, trampoline};
use crate::error::Error;
use crate::process::fork::own_pid;
use crate::wire::{MAX_FRAME, WireError};

/// Why a task gave no value.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the workers.
/// use multiproc::{Pool, TaskError};
///
/// fn refuse(n: u32) -> u32 {
///     panic!("task {n} refuses")
/// }
///
/// let pool = Pool::new(1)?;
/// match pool.apply_async(refuse, 3)?.get() {
///     Err(TaskError::Panicked(message)) => assert!(message.contains("task 3 refuses")),
///     other => panic!("expected a panic, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked in the worker; the message is the worker's panic
    /// message with its source location. Python: the exception re-raised by
    /// `AsyncResult.get()`.
    Panicked(String),
    /// The worker running the task died before it answered.
    WorkerDied {
        /// The worker's process id.
        pid: i32,
        /// Its exitcode: `-N` if signal N killed it.
        exitcode: i32,
    },
    /// [`AsyncResult::get_timeout`] ran out of time; the task may still finish.
    /// Python: `multiprocessing.TimeoutError`.
    Timeout,
    /// The pool was terminated while the task ran: its worker was stopped
    /// before it answered. Python's `Pool.terminate()` leaves such a task's
    /// `get()` waiting forever.
    Terminated {
        /// The worker that was running it.
        pid: i32,
    },
    /// The pool was terminated, or could not replace dead workers, before the
    /// task ran. Python's `ProcessPoolExecutor` raises `BrokenProcessPool`.
    PoolGone(String),
    /// The pool's own plumbing failed: the task could not be queued (its
    /// encoding is too large), or waiting for it failed (a `poll(2)`
    /// error). The cause is the source.
    Pool(Arc<Error>),
    /// The worker's answer could not be decoded as the task's result type:
    /// the program's `R` and the bytes disagree. The cause is the source.
    Decode(Arc<WireError>),
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::Panicked(message) => write!(f, "the task panicked in its worker: {message}"),
            TaskError::WorkerDied { pid, exitcode } if *exitcode < 0 => write!(
                f,
                "worker pid={pid} died (signal {}) while running the task",
                -exitcode
            ),
            TaskError::WorkerDied { pid, exitcode } => write!(
                f,
                "worker pid={pid} died (exit status {exitcode}) while running the task"
            ),
            TaskError::Timeout => write!(f, "timed out waiting for the task's result"),
            TaskError::Terminated { pid } => write!(
                f,
                "the pool was terminated while worker pid={pid} ran the task, before it finished"
            ),
            TaskError::PoolGone(why) => write!(f, "the task never ran: {why}"),
            TaskError::Pool(e) => write!(f, "the pool could not run the task: {e}"),
            TaskError::Decode(e) => write!(f, "could not decode the task's result: {e}"),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Pool(e) => Some(&**e),
            TaskError::Decode(e) => Some(&**e),
            _ => None,
        }
    }
}

/// A pool of worker processes. The [`pool`](self) module's page says how
/// tasks reach the workers, and what it costs.
///
/// Python counterpart: `multiprocessing.Pool(processes=n)`, or
/// `concurrent.futures.ProcessPoolExecutor(max_workers=n)`.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the workers.
/// use multiproc::{Pool, as_completed};
///
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let pool = Pool::new(2)?;
/// let handles = (1..=4)
///     .map(|x| pool.apply_async(square, x))
///     .collect::<Result<Vec<_>, _>>()?;
/// let mut squares: Vec<u64> = Vec::new();
/// for handle in as_completed(handles) {
///     squares.push(handle.get()?);
/// }
/// squares.sort();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[doc(alias = "ProcessPoolExecutor")]
#[doc(alias = "multiprocessing.Pool")]
pub struct Pool {
    state: RefCell<State>,
    /// The process that made the pool: the only one that may use it.
    owner: u32,
}

impl Pool {
    /// Forks `processes` workers and returns once each of them runs and
    /// waits for tasks (or after 5 s), so that the first tasks find every
    /// worker ready; CPython's `Pool` returns at once, and on a busy machine
    /// its first worker can take every task of a short run before the last
    /// one has started. Refuses unless the process is single-threaded (see
    /// [`crate::ensure_single_threaded`]).
    ///
    /// With more workers than the CPUs this process may use
    /// (`std::thread::available_parallelism`), the workers run under the
    /// `SCHED_BATCH` policy (sched(7)), unlike CPython's: the same share of
    /// the CPU, but a worker woken by a task waits for the running process's
    /// turn to end instead of preempting it. The children a task forks
    /// inherit the policy. (See "What it costs" in the module's page.)
    ///
    /// # Errors
    /// [`Error::State`] for 0 processes; [`Error::Multithreaded`] if this
    /// process has more than one thread; [`Error::Io`] or [`Error::Os`] if a
    /// pipe, a socket or a fork fails.
    pub fn new(processes: usize) -> Result<Pool, Error> {
        if processes == 0 {
            return Err(Error::State("a pool needs at least one worker process"));
        }
        Ok(Pool {
            state: RefCell::new(State::new(processes)?),
            owner: own_pid(),
        })
    }

    /// How many worker processes the pool keeps.
    fn workers(&self) -> usize {
        self.state.borrow().worker_pids().len()
    }

    /// The worker processes' ids, in the order of their slots.
    pub fn worker_pids(&self) -> Vec<i32> {
        self.state.borrow().worker_pids()
    }

    /// Queues `func(arg)` to run in a worker and returns a handle to its
    /// result. Python: `Pool.apply_async(func, (arg,))`, or
    /// `ProcessPoolExecutor.submit(func, arg)`.
    ///
    /// # Errors
    /// [`Error::State`] after [`Pool::close`] or [`Pool::terminate`], or in a
    /// process other than the one that made the pool; [`Error::Wire`] if the
    /// argument cannot be encoded or is over [`crate::wire::MAX_FRAME`].
    /// What happens to the task itself comes through [`AsyncResult::get`].
    #[doc(alias = "submit")]
    pub fn apply_async<A, R>(&self, func: fn(A) -> R, arg: A) -> Result<AsyncResult<'_, R>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.submit(trampoline::<A, R>, func as usize, &arg)
    }

    /// Runs `func` on every item and returns the results in order, or the
    /// first error. Python: `Pool.map(func, items, chunksize)`.
    ///
    /// # Errors
    /// The first item's [`TaskError`], in the order of `items`; a refusal
    /// of [`Pool::imap`] (a closed pool, a chunksize of 0) comes as
    /// [`TaskError::Pool`].
    #[doc(alias = "starmap")]
    pub fn map<A, R>(
        &self,
        func: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<Vec<R>, TaskError>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.imap(func, items, chunksize)
            .map_err(|e| TaskError::Pool(Arc::new(e)))?
            .collect()
    }

    /// Queues `func` on every item, `chunksize` items to a task, and yields
    /// each result in the order of `items`: a result that arrives early waits
    /// until those before it have been yielded. Python:
    /// `Pool.imap(func, items, chunksize)`.
    ///
    /// The items are read as the results are taken, not at the call, and
    /// between items the pool looks whether the result wanted is ready (so
    /// that a slow input yields its first result about one item after it
    /// is, as CPython does); at most 64 chunks per worker wait ahead of the
    /// results taken, so an endless input streams in bounded memory
    /// (CPython's task thread reads it all ahead).
    ///
    /// # Errors
    /// [`Error::State`] for a `chunksize` of 0, or as [`Pool::apply_async`]
    /// for a closed pool. A chunk that cannot be queued (its encoding is too
    /// large) ends the iterator with a [`TaskError::Pool`] after the results
    /// before it; each item's own outcome comes through the iterator.
    pub fn imap<'pool, A, R, I>(
        &'pool self,
        func: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<IMap<'pool, R>, Error>
    where
        A: Serialize + DeserializeOwned + 'pool,
        R: Serialize + DeserializeOwned + 'pool,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'pool,
    {
        Ok(IMap::new(
            self.feed(func, items, chunksize)?,
            self.workers(),
        ))
    }

    /// Like [`Pool::imap`], but yields results in the order they finish.
    /// Python: `Pool.imap_unordered(func, items, chunksize)`.
    ///
    /// # Errors
    /// As [`Pool::imap`].
    pub fn imap_unordered<'pool, A, R, I>(
        &'pool self,
        func: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<IMapUnordered<'pool, R>, Error>
    where
        A: Serialize + DeserializeOwned + 'pool,
        R: Serialize + DeserializeOwned + 'pool,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'pool,
    {
        Ok(IMapUnordered::new(
            self,
            self.feed(func, items, chunksize)?,
            self.workers(),
        ))
    }

    /// Checks that chunks can be queued, and returns what queues the next
    /// one: `chunksize` items as one task whose result holds one outcome per
    /// item. `None` once the items run out.
    fn feed<'pool, A, R, I>(
        &'pool self,
        func: fn(A) -> R,
        items: I,
        chunksize: usize,
    ) -> Result<Feed<'pool, R>, Error>
    where
        A: Serialize + DeserializeOwned + 'pool,
        R: Serialize + DeserializeOwned + 'pool,
        I: IntoIterator<Item = A>,
        I::IntoIter: 'pool,
    {
        if chunksize == 0 {
            return Err(Error::State("chunksize must be at least 1"));
        }
        self.check_open()?;
        let mut items = items.into_iter().peekable();
        Ok(Box::new(move || {
            items.peek()?;
            let chunk: Vec<A> = items.by_ref().take(chunksize).collect();
            let len = chunk.len();
            Some(
                self.submit(chunk_trampoline::<A, R>, func as usize, &chunk)
                    .map(|handle| (handle, len)),
            )
        }))
    }

    /// Refuses new tasks on a closed pool, and any use of the pool from a
    /// process it was inherited by (its sockets are not that process's).
    fn check_open(&self) -> Result<(), Error> {
        if own_pid() != self.owner {
            return Err(Error::State(
                "this Pool belongs to the process that made it: a forked child must make its own",
            ));
        }
        if self.state.borrow().is_closed() {
            return Err(Error::State(
                "the pool is closed: no new tasks (Python raises ValueError: Pool not running)",
            ));
        }
        Ok(())
    }

    /// Encodes and queues one task, and writes it to the task pipe if there
    /// is room.
    fn submit<T: Serialize + ?Sized, R>(
        &self,
        call: Trampoline,
        func: usize,
        arg: &T,
    ) -> Result<AsyncResult<'_, R>, Error> {
        self.check_open()?;
        let arg = postcard::to_allocvec(arg).map_err(|e| Error::Wire(WireError::Encode(e)))?;
        if arg.len() > MAX_FRAME {
            return Err(Error::Wire(WireError::TooLargeToSend {
                len: arg.len(),
                max: MAX_FRAME,
            }));
        }
        let id = self.state.borrow_mut().enqueue(call as usize, func, arg);
        Ok(AsyncResult {
            pool: self,
            id,
            result_type: PhantomData,
        })
    }

    /// No more tasks may be queued; those queued still run. Python:
    /// `Pool.close()`.
    pub fn close(&self) {
        self.state.borrow_mut().close();
    }

    /// Waits for every queued task to finish, then for the workers to exit.
    /// Refused unless [`Pool::close`] was called first, as in Python.
    /// Results stay available through their handles. Python: `Pool.join()`.
    ///
    /// # Errors
    /// [`Error::State`] before [`Pool::close`]; [`Error::Os`] or [`Error::Io`]
    /// if waiting for a worker fails.
    pub fn join(&self) -> Result<(), Error> {
        if !self.state.borrow().is_closed() {
            return Err(Error::State(
                "Pool::join called before Pool::close: close the pool first \
                 (Python raises ValueError: Pool is still running)",
            ));
        }
        while self.pump(None)? {}
        self.state.borrow_mut().join_workers()
    }

    /// Stops the workers at once and reaps them: `SIGTERM`, then `SIGKILL`
    /// for a worker still there after a second (a task may ignore
    /// `SIGTERM`). Tasks not yet finished fail with [`TaskError::PoolGone`].
    /// Python: `Pool.terminate()`.
    pub fn terminate(&self) {
        let mut state = self.state.borrow_mut();
        state.close();
        state.stop_workers(
            Duration::from_secs(1),
            "the pool was terminated before the task finished",
        );
    }

    /// Writes what it can, then waits until a worker has answered or died,
    /// or until `deadline`. Returns false if no task was unfinished: there
    /// was nothing to wait for.
    fn pump(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        if own_pid() != self.owner {
            return Ok(false);
        }
        self.state.borrow_mut().wait(deadline)
    }
}

/// What queues the next chunk of an `imap`, or `None` when the items ran out.
pub(crate) type Feed<'pool, R> =
    Box<dyn FnMut() -> Option<Result<(ChunkHandle<'pool, R>, usize), Error>> + 'pool>;

impl Drop for Pool {
    /// Terminates and reaps the workers, as Python's `with Pool() as p:` does
    /// on leaving the block. Call [`Pool::close`] and [`Pool::join`] first to
    /// let queued tasks finish.
    fn drop(&mut self) {
        // In a forked child that inherited the pool, the workers are not its
        // children: leave them to the parent.
        if own_pid() == self.owner {
            self.terminate();
        }
    }
}
