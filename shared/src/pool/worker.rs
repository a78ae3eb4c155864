//! WORKER SIDE: the code that runs inside a pool's worker process, and the
//! messages both sides speak ([`TaskPacket`], [`FromWorker`]). Nothing here
//! runs in the parent except the choice of a trampoline at submit time.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::wire::{FrameReader, WireError, encode_frame, send_value};

/// What the parent puts in the shared task pipe: one packet per task, read
/// whole by whichever worker is free (packet mode: one `read(2)`, one
/// packet). The argument travels inside the packet when it fits; a larger
/// one is asked for on the worker's own socket ([`FromWorker::Want`]).
#[derive(Serialize, Deserialize)]
pub(super) struct TaskPacket {
    pub(super) id: u64,
    pub(super) call: usize,
    pub(super) func: usize,
    pub(super) arg: Option<Vec<u8>>,
}

/// What a worker answers: the encoded result, or the panic message.
pub(super) type Reply = Result<Vec<u8>, String>;

/// What a worker says on its own socket.
#[derive(Serialize, Deserialize)]
pub(super) enum FromWorker {
    /// The worker runs and is about to wait for its first task.
    Started,
    /// Send me task `id`'s argument (too large for the task pipe).
    Want(u64),
    /// Task `id` is done.
    Done(u64, Reply),
}

/// The worker's entry for one task type: `(task function, encoded argument)`.
pub(super) type Trampoline = fn(usize, &[u8]) -> Reply;

/// The worker's whole life: take a task from the shared pipe, note it in
/// its slot, run it, answer on its socket; exit at the pipe's end of stream
/// (the parent closed it, or died).
pub(super) fn worker_loop(tasks: File, mut conn: UnixStream, slot: &AtomicU64) -> i32 {
    // What the parent had open stays open here, as in Python's workers:
    // that is how a Queue made before the pool reaches its tasks. (The
    // manager's server, which runs no code of the user's, closes it all.)
    // Panics become answers, not noise on the worker's stderr (Python's Pool
    // also sends the exception back rather than printing it).
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *lock_last_panic() = Some(location);
    }));
    if send_value(&mut conn, &FromWorker::Started).is_err() {
        return 1;
    }
    let mut reader = FrameReader::new();
    let mut packet = vec![0u8; libc::PIPE_BUF];
    loop {
        let got = match (&tasks).read(&mut packet) {
            Ok(0) => return 0,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return 1,
        };
        let Ok(task) = postcard::from_bytes::<TaskPacket>(&packet[..got]) else {
            return 1;
        };
        slot.store(task.id, Ordering::SeqCst);
        let arg = match task.arg {
            Some(arg) => arg,
            None => {
                let fetched = send_value(&mut conn, &FromWorker::Want(task.id))
                    .and_then(|()| reader.read_frame(&mut conn));
                match fetched {
                    Ok(arg) => arg,
                    Err(WireError::Eof) => return 0,
                    Err(_) => return 1,
                }
            }
        };
        // Safety: `call` was made in `Pool::submit` from
        // `trampoline::<A, R> as Trampoline`, in the parent that forked this
        // worker; the worker is a copy of that memory image, so the address
        // names the same function here.
        let call = unsafe { std::mem::transmute::<usize, Trampoline>(task.call) };
        let reply = panic::catch_unwind(AssertUnwindSafe(|| call(task.func, &arg)))
            .unwrap_or_else(|payload| Err(describe_panic(payload.as_ref())));
        let frame = match encode_frame(&FromWorker::Done(task.id, reply)) {
            Ok(frame) => frame,
            // Say why instead of dying: the parent would report a dead worker.
            Err(e) => match encode_frame(&FromWorker::Done(
                task.id,
                Err(format!("the task's result cannot be sent back: {e}")),
            )) {
                Ok(frame) => frame,
                Err(_) => return 1,
            },
        };
        if conn.write_all(&frame).is_err() {
            return 1;
        }
        slot.store(0, Ordering::SeqCst);
    }
}

/// Decodes the argument, calls the task function, encodes the result: the one
/// place that knows the task's types, instantiated for each `(A, R)`.
pub(super) fn trampoline<A: DeserializeOwned, R: Serialize>(func: usize, arg: &[u8]) -> Reply {
    // Safety: `func` was made in `Pool::apply_async` from a `fn(A) -> R` with these
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
    // Safety: as in `trampoline`: `func` is a `fn(A) -> R` from `Pool::feed`
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
