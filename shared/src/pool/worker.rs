//! WORKER SIDE: the code that runs inside a pool's worker process, and the
//! two messages both sides speak ([`TaskMessage`] and [`Reply`]). Nothing here
//! runs in the parent except the choice of a trampoline at submit time.

use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::wire::{FrameReader, WireError, send_value};

/// What the parent sends a worker: a trampoline that knows the task's types,
/// the task function, and its encoded argument.
#[derive(Serialize, Deserialize)]
pub(super) struct TaskMessage {
    pub(super) call: usize,
    pub(super) func: usize,
    pub(super) arg: Vec<u8>,
}

/// What a worker answers: the encoded result, or the panic message.
pub(super) type Reply = Result<Vec<u8>, String>;

/// The worker's entry for one task type: `(task function, encoded argument)`.
pub(super) type Trampoline = fn(usize, &[u8]) -> Reply;

/// The worker's whole life: read a task, run it, answer; exit at end of stream.
pub(super) fn worker_loop(mut conn: UnixStream) -> i32 {
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
pub(super) fn trampoline<A: DeserializeOwned, R: Serialize>(func: usize, arg: &[u8]) -> Reply {
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
pub(super) fn chunk_trampoline<A: DeserializeOwned, R: Serialize>(
    func: usize,
    args: &[u8],
) -> Reply {
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
