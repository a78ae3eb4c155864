//! Small wrappers over system calls that nix does not make simpler.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Waits until at least one of `fds` is readable or hung up, or until
/// `deadline` (`None`: no deadline). Returns, for each fd, whether it is ready.
pub(crate) fn poll_readable(fds: &[RawFd], deadline: Option<Instant>) -> Result<Vec<bool>, Error> {
    let with_events: Vec<(RawFd, libc::c_short)> =
        fds.iter().map(|&fd| (fd, libc::POLLIN)).collect();
    poll_fds(&with_events, deadline)
}

/// Waits until at least one `(fd, events)` pair is ready (or the fd hung up
/// or failed), or until `deadline` (`None`: no deadline). Returns, for each
/// fd, whether it is ready. Retries `EINTR` with the time that is left.
pub(crate) fn poll_fds(
    fds: &[(RawFd, libc::c_short)],
    deadline: Option<Instant>,
) -> Result<Vec<bool>, Error> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up, so a wait of 0.4 ms does not become a busy loop.
                left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int
            }
        };
        // Safety: `pollfds` is a valid, exclusively borrowed array of
        // `pollfds.len()` initialised `pollfd` structs for the whole call.
        let n = unsafe {
            libc::poll(
                pollfds.as_mut_ptr(),
                pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::Io(err));
        }
        return Ok(pollfds.iter().map(|p| p.revents != 0).collect());
    }
}

/// `deadline` as an absolute `CLOCK_REALTIME` time, the clock that
/// `sem_timedwait` and `pthread_mutex_timedlock` measure against.
pub(crate) fn realtime_deadline(deadline: Instant) -> libc::timespec {
    let left = deadline.saturating_duration_since(Instant::now());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let at = now + left;
    libc::timespec {
        tv_sec: at.as_secs() as libc::time_t,
        tv_nsec: at.subsec_nanos() as libc::c_long,
    }
}

/// The instant `timeout` from now, or `None` (no deadline) if that is past
/// what an `Instant` can hold: `Duration::MAX` means "wait as long as it
/// takes", not a panic.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// A pidfd for `pid` (Linux 5.3 and later), or `None` where there is none:
/// then a worker's death is seen through its socket alone.
pub(crate) fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // Safety: pidfd_open takes a pid and flags and returns a new descriptor
    // or -1; it touches no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // Safety: the kernel just returned this descriptor; nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// True if `fd` is readable right now (a pidfd: the process has exited).
pub(crate) fn readable_now(fd: RawFd) -> bool {
    poll_fds(&[(fd, libc::POLLIN)], Some(Instant::now())).is_ok_and(|ready| ready[0])
}

/// Bytes waiting in the pipe whose read end is `fd` (FIONREAD, see pipe(7)).
pub(crate) fn fionread(fd: RawFd) -> usize {
    let mut waiting: libc::c_int = 0;
    // Safety: FIONREAD writes one int into `waiting`, a valid local.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &raw mut waiting) };
    if rc == 0 {
        usize::try_from(waiting).unwrap_or(0)
    } else {
        0
    }
}

/// A fresh anonymous mapping of `bytes` zeroed bytes, shared with every child
/// forked after this (`MAP_SHARED`): the memory a queue's control block and
/// a pool's slots live in. See mmap(2).
///
/// # Errors
/// The error of `mmap`.
pub(crate) fn map_shared(bytes: usize) -> std::io::Result<std::ptr::NonNull<libc::c_void>> {
    // Safety: asks the kernel for a fresh mapping; no existing memory is
    // touched. The result is checked against MAP_FAILED below.
    let memory = unsafe {
        libc::mmap(
            std::ptr::null_mut(),                   // Any address.
            bytes,                                  // This many bytes.
            libc::PROT_READ | libc::PROT_WRITE,     // Read and write.
            libc::MAP_SHARED | libc::MAP_ANONYMOUS, // Shared with children, no file.
            -1,                                     // No file descriptor.
            0,                                      // No offset.
        )
    };
    if memory == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(std::ptr::NonNull::new(memory).expect("mmap returned a non-null address"))
}

/// Unmaps what [`map_shared`] mapped, in this process only.
///
/// # Safety
/// `memory` and `bytes` must be a mapping from [`map_shared`], and nothing
/// may use it afterwards.
pub(crate) unsafe fn unmap_shared(memory: std::ptr::NonNull<libc::c_void>, bytes: usize) {
    // Safety: per this function's contract.
    unsafe { libc::munmap(memory.as_ptr(), bytes) };
}

/// Starts `/proc/self/exe` (this program again) as `arg0`, with this
/// process's environment plus `extra_env`, and with `keep_open` open in the
/// child. Returns the child's pid; the caller reaps it.
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
pub(crate) fn spawn_self(
    arg0: &std::ffi::OsStr,
    extra_env: &[(&str, &str)],
    keep_open: RawFd,
) -> std::io::Result<i32> {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;

    let c_string = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "an argument or an environment variable holds a NUL byte",
            )
        })
    };
    let arg0 = c_string(arg0.as_bytes())?;
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
        if extra_env.iter().any(|(extra, _)| name == *extra) {
            continue;
        }
        let mut pair = name.as_bytes().to_vec();
        pair.push(b'=');
        pair.extend_from_slice(value.as_bytes());
        env.push(c_string(&pair)?);
    }
    for (name, value) in extra_env {
        env.push(c_string(format!("{name}={value}").as_bytes())?);
    }
    let argv: [*mut libc::c_char; 2] = [arg0.as_ptr().cast_mut(), std::ptr::null_mut()];
    let mut envp: Vec<*mut libc::c_char> = env.iter().map(|c| c.as_ptr().cast_mut()).collect();
    envp.push(std::ptr::null_mut());

    let actions = SpawnActions::keeping_open(keep_open)?;
    let attributes = SpawnAttributes::fresh_signals()?;
    let mut pid: libc::pid_t = 0;
    // Safety: the program path, `argv` and `envp` are NUL-terminated strings
    // in null-terminated arrays, alive (`arg0`, `env`) until this returns;
    // `actions` and `attributes` were initialised by their constructors.
    let rc = unsafe {
        libc::posix_spawn(
            &raw mut pid,
            c"/proc/self/exe".as_ptr(),
            &raw const actions.0,
            &raw const attributes.0,
            argv.as_ptr(),
            envp.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(pid)
}

/// A `posix_spawn_file_actions_t` that keeps one descriptor open across the
/// exec, destroyed on drop.
struct SpawnActions(libc::posix_spawn_file_actions_t);

impl SpawnActions {
    fn keeping_open(fd: RawFd) -> std::io::Result<SpawnActions> {
        // Safety: an all-zero value is a valid place for init to write to.
        let mut actions = SpawnActions(unsafe { std::mem::zeroed() });
        // Safety: init writes an empty list of actions into `actions.0`.
        let rc = unsafe { libc::posix_spawn_file_actions_init(&raw mut actions.0) };
        if rc != 0 {
            // Not initialised: do not destroy it.
            std::mem::forget(actions);
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        // Safety: `actions.0` was initialised above; `fd` is a plain integer.
        let rc = unsafe { libc::posix_spawn_file_actions_adddup2(&raw mut actions.0, fd, fd) };
        if rc != 0 {
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        Ok(actions)
    }
}

impl Drop for SpawnActions {
    fn drop(&mut self) {
        // Safety: `self.0` was initialised by `keeping_open`, and is
        // destroyed once, here.
        unsafe { libc::posix_spawn_file_actions_destroy(&raw mut self.0) };
    }
}

/// `posix_spawnattr_t` for a child that starts with no signal blocked and
/// `SIGPIPE` at its default action (as std's `Command` starts children),
/// whatever this thread's mask is. Destroyed on drop.
struct SpawnAttributes(libc::posix_spawnattr_t);

impl SpawnAttributes {
    fn fresh_signals() -> std::io::Result<SpawnAttributes> {
        let check = |rc: libc::c_int| match rc {
            0 => Ok(()),
            rc => Err(std::io::Error::from_raw_os_error(rc)),
        };
        // Safety: an all-zero value is a valid place for init to write to.
        let mut attributes = SpawnAttributes(unsafe { std::mem::zeroed() });
        // Safety: init writes default attributes into `attributes.0`.
        let rc = unsafe { libc::posix_spawnattr_init(&raw mut attributes.0) };
        if rc != 0 {
            std::mem::forget(attributes);
            return Err(std::io::Error::from_raw_os_error(rc));
        }
        // Safety: zeroed memory is a valid sigset_t for sigemptyset to fill.
        let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
        // Safety: `empty` is a valid, writable sigset_t.
        check(unsafe { libc::sigemptyset(&raw mut empty) })?;
        // Safety: as above.
        let mut pipe_only: libc::sigset_t = unsafe { std::mem::zeroed() };
        // Safety: `pipe_only` is a valid, writable sigset_t.
        check(unsafe { libc::sigemptyset(&raw mut pipe_only) })?;
        // Safety: `pipe_only` was emptied above; SIGPIPE is a valid signal.
        check(unsafe { libc::sigaddset(&raw mut pipe_only, libc::SIGPIPE) })?;
        // Safety: `attributes.0` was initialised; `empty` is a valid set.
        check(unsafe {
            libc::posix_spawnattr_setsigmask(&raw mut attributes.0, &raw const empty)
        })?;
        // Safety: as above, with `pipe_only`.
        check(unsafe {
            libc::posix_spawnattr_setsigdefault(&raw mut attributes.0, &raw const pipe_only)
        })?;
        let flags = (libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF) as libc::c_short;
        // Safety: `attributes.0` was initialised; the flags are valid.
        check(unsafe { libc::posix_spawnattr_setflags(&raw mut attributes.0, flags) })?;
        Ok(attributes)
    }
}

impl Drop for SpawnAttributes {
    fn drop(&mut self) {
        // Safety: `self.0` was initialised by `fresh_signals`, and is
        // destroyed once, here.
        unsafe { libc::posix_spawnattr_destroy(&raw mut self.0) };
    }
}
