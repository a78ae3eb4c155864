//! A small, honest multiprocessing library for Linux, written for the course
//! "Processes vs threads". Its names follow Python's `multiprocessing`, so
//! `Pool.apply_async` is [`Pool::apply_async`]; its failures are Rust's:
//! `Result`s that say what happened, never a silent hang.
//!
//! | Python                                   | here                         |
//! |------------------------------------------|------------------------------|
//! | `multiprocessing.Process(target=f)`      | [`Process::start`]           |
//! | `Process(target=f, daemon=True)`         | [`Process::start_daemon`]    |
//! | `multiprocessing.Pool(n)`                | [`Pool::new`]                |
//! | `ProcessPoolExecutor(n).submit(f, x)`    | [`Pool::apply_async`]        |
//! | `concurrent.futures.as_completed(fs)`    | [`as_completed`]             |
//! | `Pool.imap(f, xs)` / `imap_unordered`    | [`Pool::imap`] / [`Pool::imap_unordered`] |
//! | subclassing `Process`, overriding `run`  | the [`Run`] trait            |
//! | the spawn start method                   | [`Process::spawn`], [`init`] |
//! | `multiprocessing.Pipe()`                 | [`Pipe::duplex`], [`Pipe::one_way`] |
//! | `multiprocessing.Queue(maxsize)`         | [`Queue::new`]               |
//! | `multiprocessing.Manager()`              | [`Manager::start`]           |
//! | `manager.dict()`, `.Queue()`, `.Lock()`  | [`Manager::dict`], [`Manager::queue`], [`Manager::lock`] |
//! | `multiprocessing.Lock()`, `RLock()`      | [`Lock::new`], [`RLock::new`] |
//! | `Semaphore(n)`, `BoundedSemaphore(n)`    | [`Semaphore::new`], [`Semaphore::bounded`] |
//! | `Event()`, `Barrier(n)`                  | [`Event::new`], [`Barrier::new`] |
//! | `Value('i', 0)`, `Array('i', n)`         | [`Value::new`], [`Array::new`] |
//! | `RawValue` of an atomic (no such thing)  | [`Shared::new`]              |
//! | `shared_memory.SharedMemory(create=True)` | [`SharedMemory::create`], [`SharedMemory::attach`] |
//! | `current_process()` / `parent_process()` | [`std::process::id`] / [`parent_process`] |
//! | pickle + `Connection` framing            | [`wire`] (postcard, framed)  |
//! | `connection.Listener(address, authkey=k)` | [`connection::Listener::bind`] |
//! | `connection.Client(address, authkey=k)`  | [`connection::connect`]      |
//!
//!
//! Each module's page says how its part works and what it costs: [`pool`]
//! (how tasks reach workers, and what CPython's pool does with three helper
//! threads), [`queue`] (a ring in shared memory, futex waits, no feeder
//! thread), [`pipe`], [`manager`] (a server process and its proxies),
//! [`process`] (fork, spawn, and the rules every child follows), [`sync`]
//! (locks, events and plain data in shared memory, and what a dead holder
//! does to each) and [`wire`] (the framing all of them share).
//!
//! # Not here
//! The course needs only the parts above. Python's `Condition`, the
//! `sharedctypes` of structures (implement [`Plain`] for your own plain
//! `#[repr(C)]` type instead), `Pool.starmap` (use [`Pool::map`] with tuples),
//! `map_async`, `apply` (use `apply_async(..)?.get()`), the `forkserver`
//! start method and every non-Linux system are not covered. For real work,
//! look at the crates a Rust programmer would use: `procspawn` (processes
//! and a pool, like this crate's spawn), `ipc-channel` (typed channels
//! between processes), `interprocess` (pipes and sockets on every OS),
//! `rayon` and `crossbeam-channel` (threads, which need no serialisation).
//!
//! # Design
//! - Every child is created by `fork(2)` while the process is single-threaded
//!   (see [`ensure_single_threaded`]), runs under `catch_unwind`, ends with
//!   `_exit`, and is reaped, also when its handle is dropped. No type here
//!   starts a helper thread in the caller, so the caller can go on forking.
//! - One wire format everywhere ([`wire`]): a 4-byte big-endian length, then
//!   a postcard payload, at most [`wire::MAX_FRAME`] bytes.
//! - Errors are values. Setting things up returns [`Error`]; each operation
//!   has its own small enum ([`WireError`], [`QueueError`], [`TaskError`],
//!   [`ManagerError`]), and a wrapped cause stays reachable through
//!   [`std::error::Error::source`].
//! - A manager trusts only processes of its owner's tree: each process has
//!   an authkey (Python's `current_process().authkey`), inherited by forked
//!   and spawned children, and every connection starts with an HMAC
//!   challenge in both directions.
//! - A file's path says which process runs its code: `pool/worker.rs` runs in
//!   a pool's worker, `manager/server.rs` in the manager's server, the rest in
//!   the process that calls it.
//!
//! # When a process is killed
//! Any process may be killed at any instruction (`SIGKILL`, the OOM killer,
//! [`Process::terminate`] of a busy child). What that may lose is at most
//! what the killed process itself held; nothing else changes:
//! - [`Queue`]: the one item a consumer had taken and not finished, or the
//!   one a producer had not finished writing (never delivered in part).
//!   Every other item is delivered exactly once, and the bound, `qsize` and
//!   every later `put` and `get` stay exact; a process killed while it
//!   waits loses nothing and blocks nobody.
//! - [`Pool`]: the task the killed worker ran, which fails with
//!   [`TaskError::WorkerDied`]; the worker is replaced and the other tasks
//!   run on.
//! - [`Lock`], [`RLock`], [`Value`], [`Array`]: the next `acquire` is told
//!   that the holder died ([`LockError::HolderDied`]) and holds the lock;
//!   a [`Semaphore`] loses the permits the killed process held.
//! - [`Pipe`]: the message being written; the reader gets
//!   [`WireError::Truncated`] or end of stream, never a message cut short
//!   taken for a whole one.
//! - [`Manager`]: a killed client lets go of its locks and its references
//!   (its objects are freed if it held the last); a killed server makes
//!   every call fail with [`ManagerError::Gone`], and a killed owner makes
//!   the server remove its socket and directory and exit.
//! - Any child: it is reaped through its pidfd, and a handle never signals
//!   a process that merely reuses its pid.
//!
//! # Testing
//! Never fork inside a `#[test]`: libtest runs each test on a thread of its
//! own, so the process is multithreaded and a fork is refused. The crate's
//! scenarios are one `harness = false` test target (`tests/scenarios/`) that
//! runs each scenario in a fresh copy of itself, single-threaded, under a
//! timeout, in its own process group, with a check that nothing is left
//! behind.
//!
//! # Platform
//! Linux only: it forks, reads `/proc`, and uses `poll(2)`, `socketpair(2)`,
//! `prctl(2)`, `futex(2)`, pidfds, robust process-shared mutexes and
//! `O_DIRECT` pipes. On any
//! other system the crate stops the build with a message that says so.

#![warn(missing_docs)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "multiproc needs Linux: it forks, reads /proc, and uses poll(2), prctl(2), robust \
     process-shared mutexes and packet-mode pipes. See the README's \"Linux only\"."
);

mod auth;
pub mod connection;
mod error;
mod futex;
pub mod manager;
pub mod pipe;
pub mod pool;
pub mod process;
pub mod queue;
pub mod sync;
mod sys;
pub mod wire;

pub use error::Error;
pub use manager::{DictProxy, LockProxy, Manager, ManagerError, QueueProxy};
pub use pipe::{Connection, Pipe, RecvEnd, SendEnd};
pub use pool::{AsyncResult, IMap, IMapUnordered, Pool, TaskError, as_completed};
pub use process::fork::{ensure_single_threaded, flush_std_streams, thread_count};
pub use process::spawn::init;
pub use process::{ParentProcess, Process, Run, parent_process};
pub use queue::{Queue, QueueError};
pub use sync::{
    Array, Barrier, BarrierError, Event, Lock, LockError, Plain, RLock, Semaphore, Shared,
    SharedMemory, Value,
};
pub use wire::WireError;
