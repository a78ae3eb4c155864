//! The one place the crate calls `fork(2)`, and the rules around it.
//!
//! A forked child holds a copy of only the thread that called `fork`. Any lock
//! another thread held at that moment (stdout's, a `Mutex` of the program's)
//! stays locked in the child forever, and threads it counts on (a rayon
//! pool's) are missing; in general such a child may call only
//! async-signal-safe functions. (glibc's `fork` does reset the allocator's own
//! locks.) So the crate forks only while the
//! process is single-threaded, flushes stdout and stderr first (or buffered
//! text would be printed by both processes), runs the child's body under
//! `catch_unwind`, and ends the child with `_exit` so it never returns into the
//! parent's code path or runs the parent's exit handlers.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::error::Error;

/// How many threads this process has now: field 20 of `/proc/<pid>/stat`,
/// the number Python 3.12 reads before it warns that `fork()` in a
/// multithreaded process may deadlock.
///
/// The file stays open (one per process: a forked child opens its own, as
/// the parent's descriptor would still describe the parent), so a check is
/// one `pread(2)`.
///
/// # Errors
/// The error of reading `/proc/self/stat`.
pub fn thread_count() -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    static STAT: Mutex<Option<(u32, std::fs::File)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut cached = STAT.lock().unwrap_or_else(|p| p.into_inner());
    if cached.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        // The parent's file, inherited: its number may have been closed and
        // reused here (see `close_other_fds`), so it is forgotten, not closed.
        std::mem::forget(cached.take());
        *cached = Some((pid, std::fs::File::open(format!("/proc/{pid}/stat"))?));
    }
    let (_, file) = cached.as_ref().expect("opened above");
    let mut buf = [0u8; 1024];
    let n = file.read_at(&mut buf, 0)?;
    let text = std::str::from_utf8(&buf[..n]).map_err(std::io::Error::other)?;
    // The command name, in parentheses, may hold spaces: count from after it.
    // Field 3 (the state) is the first after it, so field 20 is the 18th.
    text.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(17))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no thread count in /proc/{pid}/stat")))
}

/// Returns `Ok` if this process has exactly one thread, and an
/// [`Error::Multithreaded`] otherwise.
///
/// A thread that was just joined can still be counted for a few microseconds:
/// `join` returns once the thread has cleared its tid, slightly before the
/// kernel removes it from the thread group. So a count above one is read again
/// for up to 100 ms before the answer is no.
///
/// Python counterpart: the `DeprecationWarning` that Python 3.12 gives for
/// `os.fork()` in a multithreaded process; here it is a refusal.
///
/// # Errors
/// [`Error::Multithreaded`] with the thread count; [`Error::Os`] if
/// `/proc/self/stat` cannot be opened or read (at the descriptor limit, for
/// one), [`Error::Io`] if it makes no sense.
pub fn ensure_single_threaded() -> Result<(), Error> {
    let give_up = Instant::now() + Duration::from_millis(100);
    loop {
        let threads = thread_count().map_err(|e| match e.raw_os_error() {
            Some(_) => Error::os("open or read of /proc/self/stat (to count threads)", &e),
            None => Error::Io(e),
        })?;
        if threads == 1 {
            return Ok(());
        }
        if Instant::now() >= give_up {
            return Err(Error::Multithreaded { threads });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Flushes stdout and stderr, forks, and runs `child_body` in the child under
/// `catch_unwind`, then `_exit`s with the code it returned (1 if it panicked,
/// as Python's `exitcode` is 1 after an uncaught exception). Returns the
/// child's pid in the parent. Refuses unless the process is single-threaded.
pub(crate) fn fork_child(child_body: impl FnOnce() -> i32) -> Result<Pid, Error> {
    ensure_single_threaded()?;
    flush_std_streams();
    let parent = nix::unistd::getpid().as_raw();
    // The child inherits this process's authkey, as in Python: make it now,
    // or parent and child would each make their own.
    let _ = super::authkey::authkey();
    // Safety: the process is single-threaded (checked just above), so the child
    // is a complete copy and no lock can be held by a thread it lacks. The child
    // never returns from this function: it leaves through `_exit`.
    match unsafe { fork() }.map_err(|e| Error::Os("fork", e))? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            note_parent(parent);
            close_parent_only_fds();
            let code = panic::catch_unwind(AssertUnwindSafe(child_body)).unwrap_or(1);
            exit_child(code)
        }
    }
}

/// This process's id, cached: 0 until first asked, and again in a child
/// after each fork (an atfork handler clears it).
static OWN_PID: AtomicU32 = AtomicU32::new(0);

/// This process's id without a system call each time (glibc's `getpid` makes
/// one): read once, and read again after every fork that goes through libc's
/// `fork` (the crate's, nix's, Python's), whose child handlers clear the
/// cache. A pool asks it twice per task, to refuse use from a forked child,
/// and a manager proxy once per call, to tell its own connection from one
/// it inherited.
pub(crate) fn own_pid() -> u32 {
    static HANDLER: std::sync::Once = std::sync::Once::new();
    let cached = OWN_PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    HANDLER.call_once(|| {
        // Safety: registers a child handler that only stores to an atomic,
        // which is async-signal-safe as the forked child requires.
        unsafe { libc::pthread_atfork(None, None, Some(forget_own_pid)) };
    });
    let pid = std::process::id();
    OWN_PID.store(pid, Ordering::Relaxed);
    pid
}

/// Runs in every child libc's `fork` makes: the cached id is the parent's.
extern "C" fn forget_own_pid() {
    OWN_PID.store(0, Ordering::Relaxed);
}

/// The pid of the process that started this one through the crate (0: none).
static PARENT: AtomicI32 = AtomicI32::new(0);

/// Remembers `pid` as the process that started this one.
pub(crate) fn note_parent(pid: i32) {
    PARENT.store(pid, Ordering::Relaxed);
}

/// The pid [`note_parent`] remembered, if any.
pub(crate) fn parent() -> Option<i32> {
    Some(PARENT.load(Ordering::Relaxed)).filter(|&pid| pid != 0)
}

/// Ends a forked child: flushes what it printed, then `_exit`, which skips the
/// parent's `atexit` handlers and destructors that were copied into the child.
pub(crate) fn exit_child(code: i32) -> ! {
    flush_std_streams();
    // Safety: `_exit` is async-signal-safe and takes no pointers.
    unsafe { libc::_exit(code) }
}

/// Flushes Rust's stdout buffer (stderr is unbuffered) so nothing buffered is
/// copied into a child and printed twice. Python's `multiprocessing` does the
/// same before every fork (`util._flush_std_streams()`); a bare `os.fork()`
/// does not.
pub fn flush_std_streams() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

/// How a child ended, in Python's `Process.exitcode` convention: the exit
/// status, or `-N` when signal N killed it.
pub(crate) fn exitcode_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(-(signal as i32)),
        _ => None,
    }
}

/// Waits for `pid` to end and returns its exitcode, retrying `EINTR`.
pub(crate) fn reap(pid: Pid) -> Result<i32, Error> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exitcode_of(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Os("waitpid", e)),
        }
    }
}

/// Reaps `pid` if it has ended; `Ok(None)` if it is still running.
pub(crate) fn try_reap(pid: Pid) -> Result<Option<i32>, Error> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => Ok(None),
        Ok(status) => Ok(exitcode_of(status)),
        Err(e) => Err(Error::Os("waitpid", e)),
    }
}

/// Descriptors that only the process that created them may hold: the parent's
/// ends of pool workers' sockets, for example. A child forked later would
/// otherwise inherit a copy, and a worker waiting for end-of-stream on its
/// socket would wait for as long as that unrelated child lived.
static PARENT_ONLY_FDS: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// A descriptor (or a type holding one) that only this process may keep:
/// every child forked while it lives closes its copy first thing. Dropping it
/// takes it off the list before the descriptor is closed, so a reused fd
/// number is never closed by mistake in a later child. Dropped in a child
/// that inherited it, it closes nothing: that child's copy was closed at the
/// fork, and the number may name one of the child's own files by now
/// (CPython's finalizers likewise do nothing outside their process).
#[derive(Debug)]
pub(crate) struct ParentOnly<T: AsRawFd> {
    inner: ManuallyDrop<T>,
    owner: u32,
}

impl<T: AsRawFd> ParentOnly<T> {
    pub(crate) fn new(inner: T) -> Self {
        lock_parent_only().push(inner.as_raw_fd());
        ParentOnly {
            inner: ManuallyDrop::new(inner),
            owner: std::process::id(),
        }
    }
}

impl<T: AsRawFd> std::ops::Deref for ParentOnly<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsRawFd> std::ops::DerefMut for ParentOnly<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: AsRawFd> Drop for ParentOnly<T> {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            // Leaked on purpose: closing it here would close another file.
            return;
        }
        let fd = self.inner.as_raw_fd();
        lock_parent_only().retain(|&known| known != fd);
        // Safety: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}

fn lock_parent_only() -> std::sync::MutexGuard<'static, Vec<RawFd>> {
    // A panic while the lock was held leaves a plain Vec behind: still valid.
    PARENT_ONLY_FDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn close_parent_only_fds() {
    let fds = std::mem::take(&mut *lock_parent_only());
    for fd in fds {
        // Safety: these descriptors belong to objects of the parent that the
        // child never uses; closing the child's copies leaves the parent's
        // open. A close error only means the fd was already gone.
        unsafe { libc::close(fd) };
    }
}

/// Closes every descriptor of this process but stdin, stdout, stderr and
/// `keep`: for a long-lived child (a pool worker, the manager server) right
/// after the fork, so that it holds no copy of anything else its parent had
/// open, such as the write end of a pipe the parent expects to see closed
/// (close_range(2)). Objects of the parent that the child still holds are
/// never closed again: the child ends with `_exit`.
pub(crate) fn close_other_fds(keep: &[RawFd]) {
    let sentinel = OWN_SENTINEL.load(Ordering::SeqCst);
    let mut keep: Vec<u32> = keep
        .iter()
        .chain([&sentinel])
        .filter_map(|&fd| u32::try_from(fd).ok())
        .chain([0, 1, 2])
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut first = 0u32;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > first {
            // Safety: close_range takes plain integers and only closes
            // descriptors, none of which this child uses (see above).
            unsafe { libc::syscall(libc::SYS_close_range, first, fd - 1, 0) };
        }
        first = fd.saturating_add(1);
    }
}

/// This process's end of its own sentinel pipe, if a `Process` made it (-1
/// if not): it must stay open until the process exits.
static OWN_SENTINEL: AtomicI32 = AtomicI32::new(-1);

/// Called in a child `Process::start` made, with its sentinel's write end.
pub(crate) fn note_own_sentinel(fd: RawFd) {
    OWN_SENTINEL.store(fd, Ordering::SeqCst);
}
