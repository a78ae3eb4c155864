//! [`Pool`]: a fixed set of forked worker processes that run tasks, the
//! counterpart of Python's `multiprocessing.Pool` and of
//! `concurrent.futures.ProcessPoolExecutor`.
//!
//! # Design (simpler than Python's)
//! CPython's Pool runs three helper threads in the parent (task handler,
//! result handler, worker handler) around two shared queues. This pool has no
//! helper thread: each worker has its own socket to the parent, and the parent
//! does the bookkeeping itself whenever it waits for a result (in
//! [`AsyncResult::get`], [`as_completed`], [`Pool::join`]): hand the next task
//! to each idle worker, `poll(2)` the busy workers' sockets, store what
//! arrived. Everything happens on the parent's own thread, so the parent stays
//! single-threaded and can go on forking.
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
//! # Rooms
//! - this file: the public face, run in the parent ([`Pool`], [`AsyncResult`]);
//! - `scheduler.rs`: the parent's bookkeeping: which worker runs what;
//! - `worker.rs`: the code that runs inside a worker process, and the two
//!   messages both sides speak;
//! - `imap.rs`: [`as_completed`] and the `imap` iterators, in the parent.

mod handle;
mod imap;
mod scheduler;
mod worker;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use self::handle::AsyncResult;
use self::imap::ChunkHandle;
pub use self::imap::{IMap, IMapUnordered, as_completed};
use self::scheduler::{State, Worker, fork_worker};
use self::worker::{TaskMessage, Trampoline, chunk_trampoline, trampoline};
use crate::error::Error;
use crate::sys::poll_readable;
use crate::wire::WireError;

/// Why a task gave no value.
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
    /// The pool was terminated, or could not replace dead workers, before the
    /// task ran. Python's `ProcessPoolExecutor` raises `BrokenProcessPool`.
    PoolGone(String),
    /// The pool's own plumbing failed while waiting for the result (a
    /// `poll(2)` error); the cause is the source.
    Pool(Arc<Error>),
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
            TaskError::PoolGone(why) => write!(f, "the task never ran: {why}"),
            TaskError::Pool(e) => write!(f, "the pool could not wait for the task: {e}"),
        }
    }
}

impl std::error::Error for TaskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Pool(e) => Some(&**e),
            _ => None,
        }
    }
}

/// A pool of worker processes. See the [module documentation](self) for the
/// design.
///
/// Python counterpart: `multiprocessing.Pool(processes=n)`, or
/// `concurrent.futures.ProcessPoolExecutor(max_workers=n)`.
///
/// ```no_run
/// // `no_run`: a doc test runs inside a multithreaded harness, where the
/// // pool would (rightly) refuse to fork.
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
/// for handle in as_completed(handles) {
///     println!("{}", handle.get()?);
/// }
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Pool {
    state: RefCell<State>,
}

impl Pool {
    /// Forks `processes` workers. Refuses unless the process is
    /// single-threaded (see [`crate::ensure_single_threaded`]).
    ///
    /// # Errors
    /// [`Error::State`] for 0 processes; [`Error::Multithreaded`] if this
    /// process has more than one thread; [`Error::Io`] or [`Error::Os`] if a
    /// socket or a fork fails.
    pub fn new(processes: usize) -> Result<Pool, Error> {
        if processes == 0 {
            return Err(Error::State("a pool needs at least one worker process"));
        }
        let mut workers = Vec::with_capacity(processes);
        for _ in 0..processes {
            workers.push(fork_worker()?);
        }
        Ok(Pool {
            state: RefCell::new(State {
                workers,
                ..State::default()
            }),
        })
    }

    /// The worker processes' ids, in the order they were started.
    pub fn worker_pids(&self) -> Vec<i32> {
        self.state
            .borrow()
            .workers
            .iter()
            .map(|w| w.process.pid())
            .collect()
    }

    /// Queues `func(arg)` to run in a worker and returns a handle to its
    /// result. Python: `Pool.apply_async(func, (arg,))`, or
    /// `ProcessPoolExecutor.submit(func, arg)`.
    ///
    /// # Errors
    /// [`Error::State`] after [`Pool::close`] or [`Pool::terminate`];
    /// [`Error::Wire`] if the argument cannot be encoded. What happens to the
    /// task itself comes through [`AsyncResult::get`].
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
    /// As [`Pool::imap`], and [`Error::Task`] with the first item's
    /// [`TaskError`], in the order of `items`.
    pub fn map<A, R>(
        &self,
        func: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<Vec<R>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        Ok(self
            .imap(func, items, chunksize)?
            .collect::<Result<Vec<R>, TaskError>>()?)
    }

    /// Queues `func` on every item, `chunksize` items to a task, and yields
    /// each result in the order of `items`: a result that arrives early waits
    /// until those before it have been yielded. Python:
    /// `Pool.imap(func, items, chunksize)`.
    ///
    /// Every task is queued at once (Python's task-handler thread does the
    /// same in the background); results are read as the iterator asks.
    ///
    /// # Errors
    /// As [`Pool::apply_async`], for any chunk. Each item's own outcome comes
    /// through the iterator.
    pub fn imap<A, R>(
        &self,
        func: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<IMap<'_, R>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        Ok(IMap {
            chunks: self.submit_chunks(func, items, chunksize)?.into(),
            ready: VecDeque::new(),
        })
    }

    /// Like [`Pool::imap`], but yields results in the order they finish.
    /// Python: `Pool.imap_unordered(func, items, chunksize)`.
    ///
    /// # Errors
    /// As [`Pool::imap`].
    pub fn imap_unordered<A, R>(
        &self,
        func: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<IMapUnordered<'_, R>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        Ok(IMapUnordered {
            pool: self,
            chunks: self.submit_chunks(func, items, chunksize)?.into(),
            ready: VecDeque::new(),
        })
    }

    /// Queues the items in chunks of `chunksize`; each chunk is one task whose
    /// result holds one outcome per item.
    fn submit_chunks<A, R>(
        &self,
        func: fn(A) -> R,
        items: impl IntoIterator<Item = A>,
        chunksize: usize,
    ) -> Result<Vec<(ChunkHandle<'_, R>, usize)>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        if chunksize == 0 {
            return Err(Error::State("chunksize must be at least 1"));
        }
        let mut chunks = Vec::new();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<A> = items.by_ref().take(chunksize).collect();
            let len = chunk.len();
            chunks.push((
                self.submit(chunk_trampoline::<A, R>, func as usize, &chunk)?,
                len,
            ));
        }
        Ok(chunks)
    }

    /// Encodes and queues one task, and hands it to an idle worker if there is
    /// one.
    fn submit<T: Serialize + ?Sized, R>(
        &self,
        call: Trampoline,
        func: usize,
        arg: &T,
    ) -> Result<AsyncResult<'_, R>, Error> {
        let mut state = self.state.borrow_mut();
        if state.closed {
            return Err(Error::State(
                "the pool is closed: no new tasks (Python raises ValueError: Pool not running)",
            ));
        }
        let message = TaskMessage {
            call: call as usize,
            func,
            arg: postcard::to_allocvec(arg).map_err(|e| Error::Wire(WireError::Encode(e)))?,
        };
        let encoded =
            postcard::to_allocvec(&message).map_err(|e| Error::Wire(WireError::Encode(e)))?;
        let id = state.next_id;
        state.next_id += 1;
        state.backlog.push_back((id, encoded));
        state.dispatch();
        Ok(AsyncResult {
            pool: self,
            id,
            result_type: PhantomData,
        })
    }

    /// No more tasks may be queued; those queued still run. Python:
    /// `Pool.close()`.
    pub fn close(&self) {
        self.state.borrow_mut().closed = true;
    }

    /// Waits for every queued task to finish, then for the workers to exit.
    /// Refused unless [`Pool::close`] was called first, as in Python.
    /// Results stay available through their handles. Python: `Pool.join()`.
    ///
    /// # Errors
    /// [`Error::State`] before [`Pool::close`]; [`Error::Os`] or [`Error::Io`]
    /// if waiting for a worker fails.
    pub fn join(&self) -> Result<(), Error> {
        if !self.state.borrow().closed {
            return Err(Error::State(
                "Pool::join called before Pool::close: close the pool first \
                 (Python raises ValueError: Pool is still running)",
            ));
        }
        loop {
            let idle = {
                let state = self.state.borrow();
                state.backlog.is_empty() && state.workers.iter().all(|w| w.running.is_empty())
            };
            if idle {
                break;
            }
            self.pump(None)?;
        }
        let workers = std::mem::take(&mut self.state.borrow_mut().workers);
        for worker in workers {
            let Worker {
                mut process, conn, ..
            } = worker;
            // End of stream on its socket is the worker's signal to exit.
            drop(conn);
            if process.join_timeout(Duration::from_secs(5))?.is_none() {
                process.kill()?;
                process.join()?;
            }
        }
        let mut state = self.state.borrow_mut();
        state.gone = Some("the pool was joined".into());
        Ok(())
    }

    /// Stops the workers at once with `SIGTERM` and reaps them; tasks not yet
    /// finished fail with [`TaskError::PoolGone`]. Python: `Pool.terminate()`.
    pub fn terminate(&self) {
        let mut state = self.state.borrow_mut();
        let workers = std::mem::take(&mut state.workers);
        for worker in workers {
            let Worker {
                mut process,
                conn,
                running,
                ..
            } = worker;
            drop(conn);
            let _ = process.terminate();
            let _ = process.join();
            for (id, _) in running {
                state.finish(
                    id,
                    Err(TaskError::PoolGone("the pool was terminated".into())),
                );
            }
        }
        state.fail_backlog("the pool was terminated");
        state.closed = true;
    }

    /// Hands out queued tasks, then waits until at least one busy worker has
    /// answered or died, or until `deadline`. Returns false if no worker was
    /// busy: there was nothing to wait for.
    fn pump(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        let mut state = self.state.borrow_mut();
        state.dispatch();
        let busy: Vec<usize> = (0..state.workers.len())
            .filter(|&i| !state.workers[i].running.is_empty())
            .collect();
        if busy.is_empty() {
            return Ok(false);
        }
        // Answers already in a worker's buffer need no poll.
        let buffered: Vec<bool> = busy
            .iter()
            .map(|&i| state.workers[i].reader.has_frame())
            .collect();
        let ready = if buffered.contains(&true) {
            buffered
        } else {
            let fds: Vec<_> = busy
                .iter()
                .map(|&i| state.workers[i].conn.as_raw_fd())
                .collect();
            poll_readable(&fds, deadline)?
        };
        // Collect from the highest index down: a worker that died is replaced
        // in place, so the indices of the others stay valid.
        for (&i, _) in busy.iter().zip(ready).filter(|(_, ready)| *ready).rev() {
            state.collect(i);
        }
        state.dispatch();
        Ok(true)
    }
}

impl Drop for Pool {
    /// Terminates and reaps the workers, as Python's `with Pool() as p:` does
    /// on leaving the block. Call [`Pool::close`] and [`Pool::join`] first to
    /// let queued tasks finish.
    fn drop(&mut self) {
        self.terminate();
    }
}
