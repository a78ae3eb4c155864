//! The spawn start method: a child that is a fresh run of this program, not a
//! copy of this process. Python: `multiprocessing.set_start_method("spawn")`,
//! the default on Windows and macOS. (Linux's default since Python 3.14 is
//! `forkserver`: children forked from a fresh, single-threaded server.)
//!
//! The parent runs `/proc/self/exe` again with one environment variable,
//! `MULTIPROC_SPAWN`, that names the function to run and the descriptor
//! that carries the rest: an anonymous in-memory file (memfd_create(2))
//! holding this process's authkey and the encoded argument. The key never
//! enters an environment or a command line, which any program of the same
//! user can read in `/proc/<pid>/environ` for the child's whole life; the
//! child reads the file once and closes it, as CPython's spawned child
//! reads its key from the pipe it was started with. The child's `main`
//! must call [`init`] first thing: there it finds the variable, runs the
//! function and exits, instead of running `main`'s body.
//! That call is the counterpart of Python's `if __name__ == "__main__":`
//! guard, which keeps a spawned child from running the parent's top-level code.
//!
//! The function is named by its offset from a function of this crate: the
//! binary is the same file, so the offset is the same in the child even though
//! address-space randomisation loads it at another address.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::fcntl::OFlag;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::{Pid, pipe2};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::process::Process;
use crate::process::authkey;
use crate::process::fork::{exit_child, flush_std_streams};

const MARKER: &str = "MULTIPROC_SPAWN";

/// Call this first in `main` of any program that uses
/// [`Process::spawn`]. In a spawned child it runs the requested function and
/// exits (status 0, or 1 if the function panicked); in any other process it
/// returns at once.
///
/// Python counterpart: `if __name__ == "__main__":` around the parent's code.
pub fn init() {
    let Some(request) = std::env::var_os(MARKER) else {
        return;
    };
    // Changing the environment is sound only while no other thread can
    // read it: a spawned child that reaches `init` with threads running
    // called it too late, and stops here rather than risk that.
    if crate::thread_count().map_or(true, |threads| threads > 1) {
        eprintln!(
            "multiproc: init() must be the first thing main does in a program that uses \
             Process::spawn, before any thread starts"
        );
        exit_child(1);
    }
    // Safety: this process has one thread (checked above), so nothing can
    // read the environment concurrently.
    unsafe { std::env::remove_var(MARKER) };
    let code = match run_request(request.to_str().unwrap_or("")) {
        Ok(Ok(())) => 0,
        // The panic hook has already printed the message, as Python prints
        // the traceback of an exception in a child.
        Ok(Err(Panicked)) => 1,
        Err(message) => {
            eprintln!("multiproc: spawned child failed: {message}");
            1
        }
    };
    exit_child(code)
}

/// The spawned function panicked.
struct Panicked;

/// Decodes the request, takes the key and the argument from the handed-over
/// file (and closes it), and runs the function: `Err` if the request is
/// malformed, `Ok(Err(Panicked))` if the function panicked.
fn run_request(request: &str) -> Result<Result<(), Panicked>, String> {
    let mut parts = request.split(':');
    let (Some(call), Some(func), Some(fd), Some(parent), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(format!("{MARKER} is malformed: `{request}`"));
    };
    let offset = |text: &str| {
        text.parse::<i64>()
            .map_err(|_| format!("bad offset `{text}` in {MARKER}"))
    };
    let fd: RawFd = fd
        .parse()
        .map_err(|_| format!("bad descriptor `{fd}` in {MARKER}"))?;
    let handed = read_handed_over(fd)?;
    let (key, arg) = handed
        .split_first_chunk::<32>()
        .ok_or("the handed-over file is shorter than a key")?;
    authkey::set_inherited(*key);
    let parent = parent
        .parse()
        .map_err(|_| format!("bad parent pid `{parent}` in {MARKER}"))?;
    super::fork::note_parent(parent);
    let call = address_of(offset(call)?);
    let func = address_of(offset(func)?);
    // Safety: the offsets were computed by `Process::spawn` in a run of this
    // same executable (the parent ran `/proc/self/exe`), from a
    // `spawn_trampoline::<A>` and a `fn(A)` with the same `A`.
    let call = unsafe { std::mem::transmute::<usize, SpawnTrampoline>(call) };
    call(func, arg)
}

/// Reads the whole file the parent handed over as descriptor `fd`, from its
/// start, and closes it.
fn read_handed_over(fd: RawFd) -> Result<Vec<u8>, String> {
    use std::os::fd::FromRawFd;
    use std::os::unix::fs::FileExt;
    // The descriptor is open (the parent kept it open across the exec) and
    // nothing else in this process knows its number: it is ours to close.
    if nix::fcntl::fcntl(
        // Safety: only asks whether the number is an open descriptor.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )
    .is_err()
    {
        return Err(format!("descriptor {fd} named in {MARKER} is not open"));
    }
    // Safety: checked open above; this process owns it from here (see above).
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        // `read_at`: the parent's writes moved the shared file offset.
        match file.read_at(&mut buf, bytes.len() as u64) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read the handed-over file: {e}")),
        }
    }
}

type SpawnTrampoline = fn(usize, &[u8]) -> Result<Result<(), Panicked>, String>;

fn spawn_trampoline<A: DeserializeOwned>(
    func: usize,
    arg: &[u8],
) -> Result<Result<(), Panicked>, String> {
    // Safety: see `run_request`: `func` is a `fn(A)` with this `A`.
    let func = unsafe { std::mem::transmute::<usize, fn(A)>(func) };
    let arg: A =
        postcard::from_bytes(arg).map_err(|e| format!("could not decode the argument: {e}"))?;
    Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| func(arg))).map_err(|_| Panicked))
}

/// The fixed point that function addresses are measured from.
#[inline(never)]
fn anchor() {}

fn offset_of(address: usize) -> i64 {
    address as i64 - anchor as fn() as usize as i64
}

fn address_of(offset: i64) -> usize {
    (anchor as fn() as usize as i64 + offset) as usize
}

impl Process {
    /// Starts `entry(arg)` in a fresh run of this program: the spawn start
    /// method. Safe to call while other threads run (nothing is copied from
    /// this process but the environment and the open stdio). `main` must call
    /// [`init`] first thing, or the child would run `main` again; that is
    /// caught and refused here. The child exits 0, or 1 if `entry` panicked.
    ///
    /// Python: `multiprocessing.get_context("spawn").Process(target=entry,
    /// args=(arg,)).start()`.
    ///
    /// # Errors
    /// [`Error::Wire`] if `arg` cannot be encoded; [`Error::Os`] if
    /// `/proc/self/exe` cannot be started; [`Error::State`] if the program
    /// does not call [`crate::init`] first in `main`.
    pub fn spawn<A: Serialize + DeserializeOwned>(entry: fn(A), arg: A) -> Result<Process, Error> {
        if std::env::var_os(MARKER).is_some() {
            return Err(Error::State(
                "this is a spawned child that did not call multiproc::init() at the top of main, \
                 so it is running main again; add the call (Python's `if __name__ == '__main__':`)",
            ));
        }
        let arg = postcard::to_allocvec(&arg)
            .map_err(|e| Error::Wire(crate::wire::WireError::Encode(e)))?;
        // The key and the argument, in a file that only the child is given.
        let handed = memfd_create(c"multiproc-spawn", MFdFlags::MFD_CLOEXEC)
            .map_err(|e| Error::Os("memfd_create", e))?;
        let mut file = std::fs::File::from(handed);
        std::io::Write::write_all(&mut file, authkey::authkey())
            .and_then(|()| std::io::Write::write_all(&mut file, &arg))
            .map_err(|e| Error::os("write (the spawned child's memfd)", &e))?;
        let request = format!(
            "{}:{}:{}:{}",
            offset_of(spawn_trampoline::<A> as SpawnTrampoline as usize),
            offset_of(entry as usize),
            file.as_raw_fd(),
            std::process::id()
        );
        // The sentinel: the child inherits the write end and holds it until
        // it exits, so the parent can wait with `poll` as for a fork.
        let (sentinel, child_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Os("pipe2", e))?;
        flush_std_streams();
        let arg0 = std::env::args_os()
            .next()
            .unwrap_or_else(|| "/proc/self/exe".into());
        let pid = spawn_self(
            &arg0,
            &[(MARKER, request.as_str())],
            &[child_end.as_raw_fd(), file.as_raw_fd()],
        )?;
        drop(child_end);
        drop(file);
        Ok(Process::from_parts(pid, sentinel))
    }
}

/// Starts `/proc/self/exe` (this program again) as `arg0`, with this
/// process's environment plus `extra_env`, and with the descriptors
/// `keep_open` open in the child. Returns the child's pid; the caller reaps it.
///
/// By `posix_spawn(3)`, whose child shares this process's memory until it
/// execs (glibc clones with `CLONE_VM | CLONE_VFORK`): nothing is copied,
/// so the cost does not grow with this process's size, as a fork's does
/// (`cargo xtask bench`'s start sweep shows both). std's `Command` would do
/// the same, but not while a `pre_exec` hook is set, and a hook was the
/// only way it offered to keep one descriptor open across exec. Here a
/// `dup2` of the descriptor onto itself does that: POSIX.1-2024 has it clear
/// close-on-exec in the child, as glibc does (checked on 2.36). Where it did
/// not, the child would lack the descriptor, and `Process::join` would wait
/// on the pidfd and `waitpid` instead: slower to notice, still right.
///
/// The child starts with no signal blocked and `SIGPIPE` at its default
/// action, as std's `Command` starts children, whatever this thread's mask.
fn spawn_self(
    arg0: &std::ffi::OsStr,
    extra_env: &[(&str, &str)],
    keep_open: &[RawFd],
) -> Result<Pid, Error> {
    let c_string = |bytes: Vec<u8>| {
        CString::new(bytes)
            .map_err(|_| Error::State("an argument or an environment variable holds a NUL byte"))
    };
    let argv = [c_string(arg0.as_bytes().to_vec())?];
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        if extra_env.iter().any(|(extra, _)| name == *extra) {
            continue;
        }
        let mut pair = name.into_vec();
        pair.push(b'=');
        pair.extend_from_slice(value.as_bytes());
        env.push(c_string(pair)?);
    }
    for (name, value) in extra_env {
        env.push(c_string(format!("{name}={value}").into_bytes())?);
    }
    let spawn_err = |call: &'static str| move |e| Error::Os(call, e);
    let mut actions =
        PosixSpawnFileActions::init().map_err(spawn_err("posix_spawn_file_actions_init"))?;
    for &fd in keep_open {
        actions
            .add_dup2(fd, fd)
            .map_err(spawn_err("posix_spawn_file_actions_adddup2"))?;
    }
    let mut attributes = PosixSpawnAttr::init().map_err(spawn_err("posix_spawnattr_init"))?;
    attributes
        .set_sigmask(&SigSet::empty())
        .map_err(spawn_err("posix_spawnattr_setsigmask"))?;
    let mut pipe_only = SigSet::empty();
    pipe_only.add(Signal::SIGPIPE);
    attributes
        .set_sigdefault(&pipe_only)
        .map_err(spawn_err("posix_spawnattr_setsigdefault"))?;
    attributes
        .set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF)
        .map_err(spawn_err("posix_spawnattr_setflags"))?;
    posix_spawn(c"/proc/self/exe", &actions, &attributes, &argv, &env)
        .map_err(spawn_err("posix_spawn"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_to_the_same_function() {
        let address = spawn_trampoline::<u32> as SpawnTrampoline as usize;
        assert_eq!(address_of(offset_of(address)), address);
    }
}
