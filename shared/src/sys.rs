//! Small wrappers over system calls that nix does not make simpler.

use std::os::fd::RawFd;
use std::time::Instant;

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
