//! A small, honest multiprocessing library for Linux, written for the course
//! "Processes vs threads". Its names follow Python's `multiprocessing`, so
//! `Pool.apply_async` is [`Pool::apply_async`]; its failures are Rust's:
//! `Result`s that say what happened, never a silent hang.
//!
//! | Python                                   | here                         |
//! |------------------------------------------|------------------------------|
//! | `multiprocessing.Process(target=f)`      | [`Process::start`]           |
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
//! | pickle + `Connection` framing            | [`wire`] (postcard, framed)  |
//!
//! Linux only: it forks, reads `/proc`, and uses Linux's `poll(2)` semantics.
//!
//! Every child is created by `fork(2)` while the process is single-threaded
//! (see [`ensure_single_threaded`]), runs under `catch_unwind`, ends with
//! `_exit`, and is reaped, also when its handle is dropped.

#![cfg(target_os = "linux")]
#![warn(missing_docs)]

mod error;
mod fork;
pub mod lesson;
mod manager;
mod pipe;
mod pool;
mod process;
mod queue;
mod spawn;
mod sys;
pub mod wire;

pub use error::Error;
pub use fork::{ensure_single_threaded, flush_std_streams, thread_count};
pub use manager::{DictProxy, LockProxy, Manager, ManagerError, QueueProxy};
pub use pipe::{Connection, Pipe, PipeReader, PipeWriter};
pub use pool::{AsyncResult, IMap, IMapUnordered, Pool, TaskError, as_completed};
pub use process::{Process, Run};
pub use queue::{Queue, QueueError};
pub use spawn::init;
