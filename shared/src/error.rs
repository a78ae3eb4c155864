//! The crate's error type.

use std::fmt;

use crate::wire::WireError;

/// What went wrong in a `multiproc` call, said so that the reader knows what
/// to do next.
///
/// ```
/// use multiproc::{Error, Process};
///
/// // A second thread makes this process multithreaded: fork is refused, and
/// // the error says why instead of forking a broken child.
/// let helper = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
/// match Process::start(|| {}) {
///     Err(error @ Error::Multithreaded { .. }) => println!("refused: {error}"),
///     other => panic!("expected a refusal, got {other:?}"),
/// }
/// helper.join().unwrap();
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `fork` was refused: the process has more than one thread.
    Multithreaded {
        /// The thread count, field 20 of `/proc/self/stat`.
        threads: usize,
    },
    /// A system call failed.
    Os(&'static str, nix::errno::Errno),
    /// Reading `/proc` or another plain I/O operation failed.
    Io(std::io::Error),
    /// A message could not cross a pipe or socket.
    Wire(WireError),
    /// The call is not allowed in the object's current state (for example,
    /// `Pool::join` before `Pool::close`).
    State(&'static str),
}

impl Error {
    /// The failed system call `call`, from the `io::Error` std's wrapper of
    /// it returned: the same variant, [`Error::Os`], whichever crate made
    /// the call.
    pub(crate) fn os(call: &'static str, e: &std::io::Error) -> Error {
        Error::Os(
            call,
            nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Multithreaded { threads } => write!(
                f,
                "refusing to fork: this process has {threads} threads. A forked child gets a copy \
                 of the calling thread only: a lock another thread holds (stdout's, a Mutex of \
                 yours) stays locked in the child forever, and threads it counts on (a rayon \
                 pool's) are missing. Fork before starting any thread or rayon pool, or use the \
                 spawn start method (Process::spawn)."
            ),
            Error::Os(call, errno) => {
                write!(f, "{call} failed: {}", errno.desc())?;
                match errno {
                    nix::errno::Errno::EMFILE => f.write_str(
                        " (this process is at its limit of open descriptors: close some, or \
                         raise the limit with `ulimit -n`)",
                    ),
                    nix::errno::Errno::EAGAIN if *call == "fork" => f.write_str(
                        " (the user's process limit is reached: `ulimit -u`, or a pids cgroup)",
                    ),
                    _ => Ok(()),
                }
            }
            Error::Io(e) => write!(f, "{e}"),
            Error::Wire(e) => write!(f, "{e}"),
            Error::State(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os(_, errno) => Some(errno),
            Error::Io(e) => Some(e),
            Error::Wire(e) => Some(e),
            _ => None,
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl From<Error> for WireError {
    /// An error of the crate's plumbing (a failed `poll`) during a message
    /// call; the original stays reachable as the source.
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => WireError::Io(io),
            Error::Wire(w) => w,
            other => WireError::Io(std::io::Error::other(other)),
        }
    }
}
