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

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::fork::ParentOnly;
use crate::process::Process;
use crate::sys::poll_readable;
use crate::wire::{FrameReader, WireError, send_value};

/// Why a task gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}

impl std::error::Error for TaskError {}

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

#[derive(Debug)]
struct Worker {
    process: Process,
    /// The parent's end of the worker's socket; children forked later close
    /// their copies, so the worker sees end of stream when the parent closes it.
    conn: ParentOnly<UnixStream>,
    /// Buffers the worker's answers: several can arrive in one read.
    reader: FrameReader,
    /// Tasks sent to this worker and not answered yet, oldest first: the
    /// first is running, the others wait in its socket (see [`IN_FLIGHT`]).
    running: VecDeque<(u64, Vec<u8>)>,
}

/// How many tasks a worker may hold at once. With one, every task costs a
/// full round trip during which the worker idles; with two, the next task is
/// already in the worker's socket when it answers, which roughly doubles the
/// throughput of small tasks. The price: a task may wait behind a long one
/// on its worker while another worker is free. Tasks go to idle workers
/// first, and only then a second one to each.
const IN_FLIGHT: usize = 4;

#[derive(Debug, Default)]
struct State {
    workers: Vec<Worker>,
    /// Encoded tasks waiting for an idle worker, oldest first.
    backlog: VecDeque<(u64, Vec<u8>)>,
    /// Results that arrived and are still wanted: the encoded `R`, or why not.
    finished: HashMap<u64, (u64, Result<Vec<u8>, TaskError>)>,
    /// Counts arrivals, so that `as_completed` can tell which came first.
    arrivals: u64,
    /// Tasks whose `AsyncResult` was dropped: their results are thrown away.
    abandoned: HashSet<u64>,
    next_id: u64,
    closed: bool,
    /// Set once no worker is left to run tasks; says why.
    gone: Option<String>,
}

/// What the parent sends a worker: a trampoline that knows the task's types,
/// the task function, and its encoded argument.
#[derive(Serialize, Deserialize)]
struct TaskMessage {
    call: usize,
    func: usize,
    arg: Vec<u8>,
}

/// What a worker answers: the encoded result, or the panic message.
type Reply = Result<Vec<u8>, String>;

type Trampoline = fn(usize, &[u8]) -> Reply;

impl Pool {
    /// Forks `processes` workers. Refuses unless the process is
    /// single-threaded (see [`crate::ensure_single_threaded`]).
    pub fn new(processes: usize) -> Result<Pool, Error> {
        if processes == 0 {
            return Err(Error::State("a pool needs at least one worker process"));
        }
        let mut workers = Vec::with_capacity(processes);
        for _ in 0..processes {
            workers.push(spawn_worker()?);
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
    pub fn apply_async<A, R>(&self, func: fn(A) -> R, arg: A) -> Result<AsyncResult<'_, R>, Error>
    where
        A: Serialize + DeserializeOwned,
        R: Serialize + DeserializeOwned,
    {
        self.submit(trampoline::<A, R>, func as usize, &arg)
    }

    /// Runs `func` on every item and returns the results in order, or the
    /// first error. Python: `Pool.map(func, items, chunksize)`.
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
            .map_err(|e| TaskError::PoolGone(e.to_string()))?
            .collect()
    }

    /// Queues `func` on every item, `chunksize` items to a task, and yields
    /// each result in the order of `items`: a result that arrives early waits
    /// until those before it have been yielded. Python:
    /// `Pool.imap(func, items, chunksize)`.
    ///
    /// Every task is queued at once (Python's task-handler thread does the
    /// same in the background); results are read as the iterator asks.
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

impl State {
    /// Gives the oldest queued tasks to the workers: first one to each idle
    /// worker, then a second to each (see [`IN_FLIGHT`]).
    fn dispatch(&mut self) {
        for depth in 1..=IN_FLIGHT {
            let mut i = 0;
            while i < self.workers.len() && !self.backlog.is_empty() {
                if self.workers[i].running.len() < depth {
                    let (id, task) = self.backlog.pop_front().expect("backlog is not empty");
                    let worker = &mut self.workers[i];
                    match crate::wire::write_frame(&mut *worker.conn, &task) {
                        Ok(()) => worker.running.push_back((id, task)),
                        Err(_) => {
                            // The worker died: this task never reached it.
                            self.backlog.push_front((id, task));
                            self.worker_died(i);
                            continue;
                        }
                    }
                }
                i += 1;
            }
        }
        if self.workers.is_empty() {
            let why = self
                .gone
                .clone()
                .unwrap_or_else(|| "the pool has no workers".into());
            self.fail_backlog(&why);
        }
    }

    /// Reads worker `i`'s answers (one, and any others already buffered), or
    /// learns that it died.
    fn collect(&mut self, i: usize) {
        loop {
            let worker = &mut self.workers[i];
            if worker.running.is_empty() {
                return;
            }
            match worker.reader.recv_value::<Reply>(&mut *worker.conn) {
                Ok(reply) => {
                    let (id, _) = worker.running.pop_front().expect("a task was running");
                    self.finish(id, reply.map_err(TaskError::Panicked));
                    if !self.workers[i].reader.has_frame() {
                        return;
                    }
                }
                Err(_) => {
                    // End of stream, a torn frame or garbage: the worker is gone.
                    self.worker_died(i);
                    return;
                }
            }
        }
    }

    /// Worker `i` is gone: its running task fails with `WorkerDied`; the
    /// tasks waiting behind it never started, so they go back to the front
    /// of the queue; the worker is replaced.
    fn worker_died(&mut self, i: usize) {
        let mut unanswered = std::mem::take(&mut self.workers[i].running);
        let (pid, exitcode) = self.replace_dead_worker(i);
        if let Some((id, _)) = unanswered.pop_front() {
            self.finish(id, Err(TaskError::WorkerDied { pid, exitcode }));
        }
        while let Some(task) = unanswered.pop_back() {
            self.backlog.push_front(task);
        }
    }

    /// Reaps dead worker `i` and forks a replacement in its slot (Python's Pool
    /// does the same). If the process can no longer fork (a thread was
    /// started), the slot is removed. Returns the dead worker's pid and
    /// exitcode.
    fn replace_dead_worker(&mut self, i: usize) -> (i32, i32) {
        let dead = &mut self.workers[i];
        let pid = dead.process.pid();
        // Its socket is closed, so it has exited or is exiting: this does not
        // block for long. Kill it in case it is wedged but closed the socket.
        let exitcode = match dead.process.join_timeout(Duration::from_secs(1)) {
            Ok(Some(code)) => code,
            _ => {
                let _ = dead.process.kill();
                dead.process.join().unwrap_or(-9)
            }
        };
        match spawn_worker() {
            Ok(fresh) => self.workers[i] = fresh,
            Err(e) => {
                self.workers.remove(i);
                self.gone = Some(format!("a worker died and could not be replaced: {e}"));
            }
        }
        (pid, exitcode)
    }

    fn finish(&mut self, id: u64, result: Result<Vec<u8>, TaskError>) {
        if !self.abandoned.remove(&id) {
            self.arrivals += 1;
            self.finished.insert(id, (self.arrivals, result));
        }
    }

    fn fail_backlog(&mut self, why: &str) {
        while let Some((id, _)) = self.backlog.pop_front() {
            self.finish(id, Err(TaskError::PoolGone(why.to_string())));
        }
    }
}

/// A handle to one task's result. Python: `multiprocessing.pool.AsyncResult`,
/// or `concurrent.futures.Future`.
#[must_use = "a task's result is only seen through its AsyncResult"]
pub struct AsyncResult<'pool, R> {
    pool: &'pool Pool,
    id: u64,
    result_type: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> AsyncResult<'_, R> {
    /// Waits for the result. Python: `AsyncResult.get()`.
    pub fn get(&self) -> Result<R, TaskError> {
        self.wait_until(None)
    }

    /// Waits at most `timeout`; [`TaskError::Timeout`] after that. Python:
    /// `AsyncResult.get(timeout)`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<R, TaskError> {
        self.wait_until(Some(Instant::now() + timeout))
    }

    /// True once the result (or its error) has arrived, without waiting.
    /// Python: `AsyncResult.ready()`.
    pub fn ready(&self) -> bool {
        // A poll with a deadline of now collects anything already answered.
        let _ = self.pool.pump(Some(Instant::now()));
        self.pool.state.borrow().finished.contains_key(&self.id)
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<R, TaskError> {
        loop {
            if let Some((_, result)) = self.pool.state.borrow().finished.get(&self.id) {
                let bytes = result.as_ref().map_err(Clone::clone)?;
                return postcard::from_bytes(bytes).map_err(|e| {
                    TaskError::Panicked(format!("could not decode the task's result: {e}"))
                });
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(TaskError::Timeout);
            }
            let waited = self
                .pool
                .pump(deadline)
                .map_err(|e| TaskError::PoolGone(e.to_string()))?;
            if !waited && !self.pool.state.borrow().finished.contains_key(&self.id) {
                return Err(lost_task());
            }
        }
    }
}

impl<R> Drop for AsyncResult<'_, R> {
    fn drop(&mut self) {
        let mut state = self.pool.state.borrow_mut();
        if state.finished.remove(&self.id).is_none() {
            state.abandoned.insert(self.id);
        }
    }
}

/// Yields the handles as their tasks finish, first finished first. Python:
/// `concurrent.futures.as_completed(futures)`.
pub fn as_completed<'pool, R: DeserializeOwned>(
    mut handles: Vec<AsyncResult<'pool, R>>,
) -> impl Iterator<Item = AsyncResult<'pool, R>> {
    handles.sort_by_key(|h| h.id);
    let mut waiting: VecDeque<_> = handles.into();
    std::iter::from_fn(move || {
        let pool = waiting.front()?.pool;
        take_first_finished(pool, &mut waiting, |h| h.id)
    })
}

/// Removes and returns the one of `waiting` (sorted by task id) whose task
/// finished first, waiting for one if none has. `id` tells each one's task.
/// It looks up the few results that have arrived and not been taken, not
/// every handle that is still waiting: `imap_unordered` over 100 000 items
/// stays linear.
fn take_first_finished<T>(
    pool: &Pool,
    waiting: &mut VecDeque<T>,
    id: impl Fn(&T) -> u64,
) -> Option<T> {
    if waiting.is_empty() {
        return None;
    }
    loop {
        let first = {
            let state = pool.state.borrow();
            state
                .finished
                .iter()
                .filter_map(|(task, (arrival, _))| {
                    let at = waiting.binary_search_by_key(task, &id).ok()?;
                    Some((*arrival, at))
                })
                .min()
        };
        if let Some((_, at)) = first {
            return waiting.remove(at);
        }
        if !matches!(pool.pump(None), Ok(true)) {
            // An error, or nothing left to wait for: let the caller see why
            // through the handle's `get`.
            return waiting.pop_front();
        }
    }
}

/// A task that is neither queued, running nor finished: it cannot happen
/// while the handle lives, but a wait must never spin on it.
fn lost_task() -> TaskError {
    TaskError::PoolGone("the task is no longer known to its pool".into())
}

/// One chunk of an `imap`: a task whose result is one outcome per item.
type ChunkHandle<'pool, R> = AsyncResult<'pool, Vec<Result<R, String>>>;

/// Spreads a chunk's outcome over its items: each item's own result, or the
/// chunk's error (a dead worker, a terminated pool) for every one of them.
fn outcomes<R>(
    chunk: Result<Vec<Result<R, String>>, TaskError>,
    len: usize,
) -> VecDeque<Result<R, TaskError>> {
    match chunk {
        Ok(items) => items
            .into_iter()
            .map(|r| r.map_err(TaskError::Panicked))
            .collect(),
        Err(e) => (0..len).map(|_| Err(e.clone())).collect(),
    }
}

/// The iterator [`Pool::imap`] returns: results in the order of the items.
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMap<'pool, R> {
    chunks: VecDeque<(ChunkHandle<'pool, R>, usize)>,
    ready: VecDeque<Result<R, TaskError>>,
}

impl<R: DeserializeOwned> Iterator for IMap<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            // The oldest chunk first, however long it takes: that is what
            // keeps the results in order.
            let (handle, len) = self.chunks.pop_front()?;
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}

/// The iterator [`Pool::imap_unordered`] returns: results as they finish.
#[must_use = "an iterator does nothing unless consumed"]
pub struct IMapUnordered<'pool, R> {
    pool: &'pool Pool,
    chunks: VecDeque<(ChunkHandle<'pool, R>, usize)>,
    ready: VecDeque<Result<R, TaskError>>,
}

impl<R: DeserializeOwned> Iterator for IMapUnordered<'_, R> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ready.is_empty() {
            // Whichever chunk finishes first.
            let (handle, len) = take_first_finished(self.pool, &mut self.chunks, |(h, _)| h.id)?;
            self.ready = outcomes(handle.get(), len);
        }
        self.ready.pop_front()
    }
}

/// Forks one worker with its own socket to the parent.
fn spawn_worker() -> Result<Worker, Error> {
    let (parent_end, child_end) = UnixStream::pair().map_err(Error::Io)?;
    // Marked before the fork, so this worker closes its copy of the parent's
    // end too.
    let conn = ParentOnly::new(parent_end);
    let process = Process::start_with_code(move || worker_loop(child_end))?;
    Ok(Worker {
        process,
        conn,
        reader: FrameReader::new(),
        running: VecDeque::new(),
    })
}

/// The worker's whole life: read a task, run it, answer; exit at end of stream.
fn worker_loop(mut conn: UnixStream) -> i32 {
    // Panics become answers, not noise on the worker's stderr (Python's Pool
    // also sends the exception back rather than printing it).
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *lock_last_panic() = Some(location);
    }));
    let mut reader = FrameReader::new();
    loop {
        let task: TaskMessage = match reader.recv_value(&mut conn) {
            Ok(task) => task,
            Err(WireError::Eof) => return 0,
            Err(_) => return 1,
        };
        // Safety: `call` was made in `apply_async` from
        // `trampoline::<A, R> as Trampoline`, in the parent that forked this
        // worker; the worker is a copy of that memory image, so the address
        // names the same function here.
        let call = unsafe { std::mem::transmute::<usize, Trampoline>(task.call) };
        let reply = panic::catch_unwind(AssertUnwindSafe(|| call(task.func, &task.arg)))
            .unwrap_or_else(|payload| Err(describe_panic(payload.as_ref())));
        if send_value(&mut conn, &reply).is_err() {
            return 1;
        }
    }
}

/// Decodes the argument, calls the task function, encodes the result: the one
/// place that knows the task's types, instantiated for each `(A, R)`.
fn trampoline<A: DeserializeOwned, R: Serialize>(func: usize, arg: &[u8]) -> Reply {
    // Safety: `func` was made in `apply_async` from a `fn(A) -> R` with these
    // very `A` and `R` (this instance of the trampoline was chosen with it), in
    // the parent whose memory image this worker is a copy of.
    let func = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let arg: A = postcard::from_bytes(arg)
        .map_err(|e| format!("could not decode the task's argument: {e}"))?;
    postcard::to_allocvec(&func(arg))
        .map_err(|e| format!("could not encode the task's result: {e}"))
}

/// Like [`trampoline`], for a chunk: decodes a `Vec<A>` and answers one
/// outcome per item, so one panicking item does not fail its neighbours.
fn chunk_trampoline<A: DeserializeOwned, R: Serialize>(func: usize, args: &[u8]) -> Reply {
    // Safety: as in `trampoline`: `func` is a `fn(A) -> R` from `submit_chunks`
    // with these very `A` and `R`, in the image this worker is a copy of.
    let func = unsafe { std::mem::transmute::<usize, fn(A) -> R>(func) };
    let args: Vec<A> = postcard::from_bytes(args)
        .map_err(|e| format!("could not decode the task's arguments: {e}"))?;
    let outcomes: Vec<Result<R, String>> = args
        .into_iter()
        .map(|arg| {
            panic::catch_unwind(AssertUnwindSafe(|| func(arg)))
                .map_err(|payload| describe_panic(payload.as_ref()))
        })
        .collect();
    postcard::to_allocvec(&outcomes)
        .map_err(|e| format!("could not encode the task's results: {e}"))
}

/// The message and location of the panic just caught in this worker.
fn describe_panic(payload: &(dyn std::any::Any + Send)) -> String {
    let location = lock_last_panic().take().unwrap_or_default();
    format!("{}{location}", panic_message(payload))
}

static LAST_PANIC_LOCATION: Mutex<Option<String>> = Mutex::new(None);

fn lock_last_panic() -> std::sync::MutexGuard<'static, Option<String>> {
    LAST_PANIC_LOCATION
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The text of a panic payload (`panic!("...")` makes a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}
