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
            return Err(Error::os("poll", &err));
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

/// Sends `signal` to the process `pidfd` names (pidfd_send_signal(2), Linux
/// 5.1): that process and no other, even if its pid was reused.
///
/// # Errors
/// The errno: `ESRCH` once the process has exited.
pub(crate) fn pidfd_send_signal(
    pidfd: RawFd,
    signal: nix::sys::signal::Signal,
) -> Result<(), nix::errno::Errno> {
    // Safety: the call takes a descriptor, a signal number, a null siginfo
    // (the kernel fills in a default) and flags; it touches no memory of ours.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,                  // The process, by descriptor.
            signal as libc::c_int,  // The signal.
            std::ptr::null::<u8>(), // No siginfo: as kill(2) sends it.
            0,                      // No flags.
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
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

/// Puts the calling process under `SCHED_BATCH` (sched(7)): the same share
/// of the CPU as before (its nice value is kept), but when it wakes up it
/// does not preempt the task running on its CPU; it waits for that task's
/// turn to end. Any process may ask this for itself.
///
/// # Errors
/// The error of `sched_setscheduler(2)` (none is expected on Linux).
pub(crate) fn become_batch() -> Result<(), Error> {
    let param = libc::sched_param { sched_priority: 0 };
    // Safety: `param` is a valid local the kernel only reads; pid 0 is the
    // calling process.
    let rc = unsafe {
        libc::sched_setscheduler(
            0,                 // This process.
            libc::SCHED_BATCH, // The policy.
            &raw const param,  // Priority 0, the only one SCHED_BATCH takes.
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::Os("sched_setscheduler", nix::errno::Errno::last()))
    }
}

/// Looks for a reply (or request) expected within µs before sleeping until
/// it comes, as long as looking pays. A process that sleeps for it is woken
/// by the kernel when it comes, which on a VM costs tens of µs, more than
/// the request itself; a look that finds it costs no wake-up. When looking
/// finds nothing (the peer is slow, or shares this CPU with other work),
/// it cost its whole span of CPU for nothing: the next few waits then go
/// straight to sleep, and looking is tried again after them.
#[derive(Debug, Default)]
pub(crate) struct Spinner {
    /// Waits left that sleep without looking first.
    skip: u32,
}

impl Spinner {
    /// How many waits sleep at once after a look that found nothing.
    const SKIP: u32 = 16;

    /// Asks `poll(2)` with a zero timeout, again and again, for up to
    /// `span`, until `fd` is readable; returns when it is, or at the end of
    /// the span (the caller then reads and blocks as usual). Never yields:
    /// under load a yield hands the CPU to a busy process for a whole time
    /// slice (milliseconds).
    pub(crate) fn look(&mut self, fd: std::os::fd::BorrowedFd<'_>, span: Duration) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        let until = Instant::now() + span;
        loop {
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            if poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0) {
                return;
            }
            if Instant::now() >= until {
                self.skip = Spinner::SKIP;
                return;
            }
            std::hint::spin_loop();
        }
    }
}
