//! [`Process`]: a forked child running one function, the counterpart of
//! Python's `multiprocessing.Process` with the fork start method.

pub(crate) mod authkey;
pub(crate) mod fork;
pub(crate) mod spawn;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::{Pid, pipe2};

use crate::error::Error;
use crate::process::fork::ParentOnly;
use crate::process::fork::{exitcode_of, fork_child, reap, try_reap};
use crate::sys::{deadline_after, pidfd_open, pidfd_send_signal, poll_readable, readable_now};

/// A child process running one function.
///
/// Python counterpart: `multiprocessing.Process(target=f, args=(...))`, then
/// `start()` (here [`Process::start`] does both), `pid`, `join`, `exitcode`.
///
/// The parent also holds the read end of a *sentinel* pipe whose write end
/// only the child has. When the child ends, for any reason, the pipe reports
/// hang-up, so [`Process::join_timeout`] is a `poll(2)` with a timeout followed
/// by a `waitpid` that cannot block: the same design as CPython's
/// `popen_fork.Popen.wait`.
///
/// Dropping a `Process` that is still running kills it with `SIGKILL` and
/// reaps it, so no child outlives its handle as a zombie or an orphan. Join it
/// first if it must finish its work.
///
/// ```standalone_crate
/// // `standalone_crate`: this example is its own program, whose `main` runs
/// // on a single thread, so `start` may fork. (Doc tests merged into one
/// // harness run on threads of their own, where `start` refuses.)
/// use multiproc::Process;
///
/// let mut child = Process::start(|| println!("hello from pid={}", std::process::id()))?;
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// The closure may borrow: the child works on its own copy of the parent's
/// memory and never returns into the parent's function, so nothing can
/// dangle. `std::thread::spawn` refuses the same closure, because a thread
/// shares memory and may outlive the borrowed local:
///
/// ```standalone_crate
/// let local = String::from("on the parent's stack");
/// let mut child = multiproc::Process::start(|| println!("{local}"))?;
/// child.join()?;
/// # Ok::<(), multiproc::Error>(())
/// ```
///
/// ```compile_fail,E0373
/// fn start_a_thread() -> std::thread::JoinHandle<()> {
///     let local = String::from("on this function's stack");
///     std::thread::spawn(|| println!("{local}")) // E0373: may outlive `local`
/// }
/// ```
#[must_use = "a Process should be joined; dropping it kills the child"]
#[derive(Debug)]
#[doc(alias = "multiprocessing.Process")]
pub struct Process {
    pid: Pid,
    sentinel: OwnedFd,
    /// Readable once the child has exited, even if a process it forked
    /// still holds the sentinel's write end (pidfd_open(2), Linux 5.3+).
    pidfd: Option<ParentOnly<OwnedFd>>,
    exitcode: Option<i32>,
    /// Someone else reaped the child: its status is lost, and its pid is
    /// no longer ours to use.
    reaped_elsewhere: bool,
}

impl Process {
    /// Forks a child that runs `body`, then exits with status 0 (or 1 if
    /// `body` panicked: Python's exitcode after an uncaught exception).
    ///
    /// Refuses with [`Error::Multithreaded`] unless this process has one
    /// thread. Flushes stdout and stderr first, so nothing buffered is printed
    /// twice.
    ///
    /// # Errors
    /// [`Error::Multithreaded`] if this process has more than one thread
    /// (fork would copy only this one); [`Error::Os`] if `fork` or `pipe2`
    /// fails.
    #[doc(alias = "os.fork")]
    #[doc(alias = "target")]
    pub fn start(body: impl FnOnce()) -> Result<Process, Error> {
        Process::start_with_code(|| {
            body();
            0
        })
    }

    /// Like [`Process::start`], but the child exits with the status `body`
    /// returns: the counterpart of calling `sys.exit(code)` in the target.
    ///
    /// # Errors
    /// As [`Process::start`].
    pub fn start_with_code(body: impl FnOnce() -> i32) -> Result<Process, Error> {
        let (sentinel, child_end) = pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Os("pipe2", e))?;
        // Proxies of a manager reached over TCP: their objects must outlive
        // the parent's proxies while the child uses its copies.
        crate::manager::lend_before_fork();
        let forked = fork_child(move || {
            // The child keeps the write end open until it exits; it never
            // writes to it. Its read end would only be a stray descriptor.
            let _keep_until_exit = child_end;
            fork::note_own_sentinel(_keep_until_exit.as_raw_fd());
            crate::manager::claim_after_fork();
            body()
        });
        crate::manager::forget_fork_loan();
        let pid = forked?;
        // The parent drops its copy of the write end (`child_end` moved into
        // the closure, which the parent never runs and now drops), so the
        // child is the only holder and its exit is what makes the pipe hang up.
        let process = Process::from_parts(pid, sentinel);
        // The child has copies of this process's manager proxies: their
        // objects must live as long as it does.
        crate::manager::lend_to_child(pid.as_raw());
        Ok(process)
    }

    /// Like [`Process::start`], for a child that must not outlive this
    /// process: it is killed (`SIGKILL`) when this process dies, however it
    /// dies, even by `SIGKILL`. Python: `Process(daemon=True)`, whose
    /// children are only terminated when the parent exits normally.
    ///
    /// # Errors
    /// As [`Process::start`].
    pub fn start_daemon(body: impl FnOnce()) -> Result<Process, Error> {
        let parent = nix::unistd::getpid();
        Process::start_with_code(move || {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // The parent may have died before the line above: then go now.
            if nix::unistd::getppid() != parent {
                return 1;
            }
            body();
            0
        })
    }

    pub(crate) fn from_parts(pid: Pid, sentinel: OwnedFd) -> Process {
        Process {
            pid,
            sentinel,
            pidfd: pidfd_open(pid.as_raw()).map(ParentOnly::new),
            exitcode: None,
            reaped_elsewhere: false,
        }
    }

    /// The child's process id. Python: `Process.pid`.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Waits for the child to end and returns its exitcode. Python:
    /// `Process.join()` then `Process.exitcode`.
    ///
    /// # Errors
    /// [`Error::State`] if the child was reaped by someone else (`SIGCHLD`
    /// ignored, or a `waitpid(-1)` elsewhere), so its status is lost;
    /// [`Error::Os`] if waiting fails otherwise.
    pub fn join(&mut self) -> Result<i32, Error> {
        if let Some(code) = self.exitcode {
            return Ok(code);
        }
        if self.reaped_elsewhere {
            return Err(Error::State(REAPED_ELSEWHERE));
        }
        let waited = match &self.pidfd {
            Some(pidfd) => wait_pidfd(pidfd, WaitPidFlag::WEXITED),
            None => reap(self.pid).map(Some),
        };
        self.record(waited)?.ok_or(Error::State(REAPED_ELSEWHERE))
    }

    /// Waits at most `timeout`; `Ok(None)` if the child is still running.
    /// Python: `Process.join(timeout)` followed by a look at `exitcode`.
    ///
    /// # Errors
    /// As [`Process::join`]; [`Error::Os`] if `poll(2)` fails.
    pub fn join_timeout(&mut self, timeout: Duration) -> Result<Option<i32>, Error> {
        if let Some(code) = self.exitcode {
            return Ok(Some(code));
        }
        let mut fds = vec![self.sentinel.as_raw_fd()];
        fds.extend(self.pidfd.as_ref().map(|fd| fd.as_raw_fd()));
        let ready = poll_readable(&fds, deadline_after(timeout))?;
        if ready.contains(&true) {
            return self.join().map(Some);
        }
        Ok(None)
    }

    /// True until the child has ended. Python: `Process.is_alive()`.
    ///
    /// Asked of the child's pidfd, never of its pid: if someone else reaped
    /// the child and the pid went to another process, the answer is still
    /// about the child.
    pub fn is_alive(&mut self) -> bool {
        if self.exitcode.is_some() || self.reaped_elsewhere {
            return false;
        }
        let waited = match &self.pidfd {
            Some(pidfd) => {
                if !readable_now(pidfd.as_raw_fd()) {
                    return true;
                }
                wait_pidfd(pidfd, WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG)
            }
            None => match try_reap(self.pid) {
                Ok(None) => return true,
                other => other,
            },
        };
        let _ = self.record(waited);
        false
    }

    /// Keeps what a wait found: the exitcode, or that someone else reaped
    /// the child (`Ok(None)`).
    fn record(&mut self, waited: Result<Option<i32>, Error>) -> Result<Option<i32>, Error> {
        match waited {
            Ok(Some(code)) => {
                self.exitcode = Some(code);
                Ok(Some(code))
            }
            Ok(None) => {
                self.reaped_elsewhere = true;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The exit status once the child has been joined: 0, the code it exited
    /// with, or `-N` if signal N killed it. `None` before that. Python:
    /// `Process.exitcode`.
    pub fn exitcode(&self) -> Option<i32> {
        self.exitcode
    }

    /// Sends `SIGTERM`. Python: `Process.terminate()`.
    ///
    /// # Errors
    /// [`Error::Os`] if the signal cannot be sent. A child that has already
    /// ended is not an error: there is nothing left to stop.
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(Signal::SIGTERM)
    }

    /// Sends `SIGKILL`. Python: `Process.kill()`.
    ///
    /// # Errors
    /// As [`Process::terminate`].
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(Signal::SIGKILL)
    }

    /// Signals the child through its pidfd, which names this child and no
    /// other: a pid, once the child is reaped (by us or by anyone), may
    /// already be another process's. Only a kernel without pidfds (before
    /// 5.3) gets a signal by pid, and only before we reaped the child.
    fn signal(&self, signal: Signal) -> Result<(), Error> {
        if self.exitcode.is_some() || self.reaped_elsewhere {
            return Ok(());
        }
        match &self.pidfd {
            Some(pidfd) => match pidfd_send_signal(pidfd.as_raw_fd(), signal) {
                // ESRCH: the child has exited (a zombie, or reaped elsewhere).
                Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
                Err(e) => Err(Error::Os("pidfd_send_signal", e)),
            },
            None => kill(self.pid, signal).map_err(|e| Error::Os("kill", e)),
        }
    }
}

/// What `join` says of a child that someone else reaped.
const REAPED_ELSEWHERE: &str = "the child was reaped by someone else (SIGCHLD set to SIG_IGN or \
     SA_NOCLDWAIT, or a waitpid(-1) in this process): its exit status is lost";

/// Waits on the child's pidfd (`waitid(P_PIDFD)`, retrying `EINTR`):
/// `Ok(Some(exitcode))`, or `Ok(None)` if someone else reaped it (`ECHILD`).
/// With `WNOHANG` and the child still running, `Ok(None)` cannot come: the
/// caller saw the pidfd readable first.
fn wait_pidfd(pidfd: &OwnedFd, flags: WaitPidFlag) -> Result<Option<i32>, Error> {
    loop {
        match waitid(Id::PIDFd(pidfd.as_fd()), flags) {
            Ok(status) => match exitcode_of(status) {
                Some(code) => return Ok(Some(code)),
                // WNOHANG before the exit is visible: ask again.
                None => std::thread::yield_now(),
            },
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(Error::Os("waitid", e)),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exitcode.is_none() && !self.reaped_elsewhere {
            let _ = self.kill();
            let _ = self.join();
        }
    }
}

/// The process that started this one, as this process sees it. Python:
/// `multiprocessing.parent_process()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(alias = "parent_process")]
pub struct ParentProcess {
    pid: i32,
}

impl ParentProcess {
    /// The parent's process id. Python: `parent_process().pid`.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// True while the parent lives. Python: `parent_process().is_alive()`.
    ///
    /// Asked of this process's parent link, never of the pid: when the parent
    /// dies, the kernel hands this process to a reaper (init, or the nearest
    /// subreaper) at once and for good, so the answer cannot be fooled by
    /// another process that reuses the pid.
    pub fn is_alive(&self) -> bool {
        nix::unistd::getppid().as_raw() == self.pid
    }
}

/// The process that started this one with [`Process::start`] (or one of its
/// kinds) or [`Process::spawn`]; `None` in a process the crate did not start,
/// such as a program's first process. Python:
/// `multiprocessing.parent_process()`, also `None` in the main process.
///
/// ```standalone_crate
/// use multiproc::{Process, parent_process};
///
/// assert!(parent_process().is_none());
/// let me = std::process::id() as i32;
/// let mut child = Process::start_with_code(move || {
///     let parent = parent_process().expect("started by the crate");
///     i32::from(!(parent.pid() == me && parent.is_alive()))
/// })
/// .unwrap();
/// assert_eq!(child.join().unwrap(), 0);
/// ```
pub fn parent_process() -> Option<ParentProcess> {
    fork::parent().map(|pid| ParentProcess { pid })
}

/// A value whose `run` method is a child process's work: the counterpart of
/// subclassing `multiprocessing.Process` and overriding `run`.
///
/// ```standalone_crate
/// use multiproc::{Process, Run};
///
/// struct PrintFib {
///     n: u32,
/// }
///
/// impl Run for PrintFib {
///     fn run(&mut self) {
///         println!("fib({}) computed in pid={}", self.n, std::process::id());
///     }
/// }
///
/// let mut child: Process = PrintFib { n: 10 }.start()?;
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), multiproc::Error>(())
/// ```
pub trait Run: Sized {
    /// The work done in the child. Python: `def run(self):`.
    fn run(&mut self);

    /// Forks a child that calls [`Run::run`] on this value (the parent's copy
    /// is dropped, the child's is used). Python: `MyProcess().start()`.
    ///
    /// # Errors
    /// As [`Process::start`].
    fn start(mut self) -> Result<Process, Error> {
        Process::start(move || self.run())
    }
}
