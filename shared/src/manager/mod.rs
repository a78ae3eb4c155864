//! [`Manager`]: a server process that holds shared objects (a dict, a queue,
//! a lock) and serves them to any process through proxies, the counterpart of
//! Python's `multiprocessing.Manager()`.
//!
//! # Design
//! [`Manager::start`] makes a private directory (mode 0700), forks the server
//! while this process is single-threaded, and waits until the server reports
//! that it listens on a Unix socket in that directory. The server serves each
//! connection on its own thread (it never forks again, so threads are fine
//! there). The objects live in the server; a proxy holds only the socket's
//! path and the object's id, so it can be serialised, which is why a proxy
//! can be a [`crate::Pool`] task's argument where a [`crate::Queue`] cannot.
//! Each proxy opens its own connection the first time it is used in a
//! process, and again after a fork: a connection is never shared between
//! processes.
//!
//! Every request is one frame (the crate's wire format) and gets one reply.
//! So `d[k] += 1` through a proxy is two round trips, a read then a write,
//! and other processes can write in between: lesson 06 shows the lost updates
//! and their fixes (a manager lock, or the server-side [`DictProxy::add`]).
//!
//! # How long an object lives
//! As long as a proxy of it does, in any process, as in CPython (which
//! counts references with `incref` and `decref`): each proxy value holds
//! one reference, counted by the server, and the object is freed when the
//! last one goes ([`Manager::number_of_objects`] counts what is left). A
//! proxy holds its object
//! - when the manager makes it, or it is cloned;
//! - when it is copied into a child by a fork: the parent lends the child a
//!   reference on each of its objects for as long as the child lives (so a
//!   [`crate::Pool`] made while a proxy exists keeps that object until its
//!   workers end: each may hold a copy);
//! - when it is decoded from a message (a pool task's argument, a queue's
//!   item): the message carries a reference from the sender, which the
//!   reader takes over. A message nobody reads keeps its object until the
//!   sender's process ends, and a message whose sender has ended before it
//!   is read may find its object gone (the call then says there is no such
//!   object).
//!
//! A process's references go with it, however it ends (even by `SIGKILL`):
//! they belong to its one reference connection, which the server sees
//! close.
//!
//! Only the same user gets in: the directory is 0700, and the server checks
//! every connection's uid with `SO_PEERCRED`. A malformed request, an
//! oversize length or an unknown object ends that connection with an error;
//! the server goes on serving everyone else.
//!
//! # Rooms
//! - this file: [`Manager`], run in the process that starts it;
//! - `protocol.rs`: the requests and replies both sides speak;
//! - `proxy.rs`: CLIENT SIDE, in any process that holds a proxy;
//! - `refs.rs`: CLIENT SIDE, the references a process holds;
//! - `server.rs`: SERVER PROCESS, the forked server and its threads.

mod protocol;
mod proxy;
mod refs;
mod server;

use std::marker::PhantomData;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::protocol::{Endpoint, Kind, Request};
use self::proxy::Proxy;
pub use self::proxy::{DictProxy, LockProxy, QueueProxy, REPLY_MARGIN};
pub(crate) use self::refs::{claim_after_fork, forget_fork_loan, lend_before_fork, lend_to_child};
use self::server::{Start, serve};
use crate::error::Error;
use crate::process::Process;
use crate::process::fork::ParentOnly;
use crate::wire::WireError;

/// Why a manager call failed.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork the server.
/// use multiproc::{Manager, ManagerError};
///
/// let manager = Manager::start()?;
/// let d = manager.dict::<u32>()?;
/// manager.shutdown()?;
/// assert!(matches!(d.get("k"), Err(ManagerError::Gone { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ManagerError {
    /// The server cannot be reached: it was shut down or it died. Python:
    /// `ConnectionRefusedError` / `EOFError` from a proxy.
    Gone {
        /// What the client was doing: connecting, or a request.
        during: String,
        /// What the connection said.
        cause: WireError,
    },
    /// The server answered with an error (an unknown object, a bad value).
    Remote(String),
    /// A manager queue stayed full until the timeout. Python: `queue.Full`.
    Full,
    /// A manager queue stayed empty until the timeout. Python: `queue.Empty`.
    Empty,
    /// A lock was not acquired before the timeout. Python: `acquire()`
    /// returned `False`.
    Timeout,
    /// The server did not answer in time: a timed call (a `get`, `put` or
    /// `acquire` with a timeout) got no reply by its timeout plus
    /// [`REPLY_MARGIN`], or a new connection's handshake
    /// none within 5 s. The server may be stopped (`SIGSTOP`) or swamped;
    /// the connection was dropped, and the next call opens a new one.
    Unresponsive {
        /// What the client was doing: connecting, or a request.
        during: String,
        /// How long it waited.
        waited: Duration,
    },
    /// The handshake failed: this process does not know the manager's
    /// authkey (it was not forked or spawned from the manager's owner), or
    /// the server does not know ours, or runs as another user. Python:
    /// `AuthenticationError`.
    #[doc(alias = "AuthenticationError")]
    Refused(String),
    /// A value could not be encoded or decoded.
    Wire(WireError),
}

impl std::fmt::Display for ManagerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManagerError::Gone { during, cause } => write!(
                f,
                "the manager is gone ({during}: {cause}): was it shut down, or did its server die?"
            ),
            ManagerError::Unresponsive { during, waited } => write!(
                f,
                "the manager did not answer within {waited:?} ({during}): is its server stopped \
                 or swamped? The connection was dropped"
            ),
            ManagerError::Remote(why) => write!(f, "the manager refused the request: {why}"),
            ManagerError::Full => write!(f, "the manager queue is full (Python: queue.Full)"),
            ManagerError::Empty => write!(f, "the manager queue is empty (Python: queue.Empty)"),
            ManagerError::Timeout => write!(f, "timed out waiting for the manager lock"),
            ManagerError::Refused(why) => write!(
                f,
                "the manager and this process do not trust each other: {why} (Python: \
                 AuthenticationError)"
            ),
            ManagerError::Wire(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ManagerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ManagerError::Gone { cause, .. } | ManagerError::Wire(cause) => Some(cause),
            _ => None,
        }
    }
}

/// A running manager server. Python: `multiprocessing.Manager()` (a
/// `SyncManager`, started).
///
/// Dropping it shuts the server down, as leaving `with Manager() as m:` does.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork.
/// use multiproc::{Manager, Process};
///
/// let manager = Manager::start()?;
/// let d = manager.dict::<String>()?;
/// let mut child = Process::start(|| d.set("from", &"the child".to_string()).unwrap())?;
/// child.join()?;
/// assert_eq!(d.get("from")?.as_deref(), Some("the child"));
/// manager.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping a Manager shuts its server down"]
#[derive(Debug)]
#[doc(alias = "SyncManager")]
#[doc(alias = "multiprocessing.Manager")]
pub struct Manager {
    server: Option<Process>,
    dir: PathBuf,
    socket: PathBuf,
    /// Where the server also listens on TCP ([`Manager::serve`]).
    tcp: Option<SocketAddr>,
    /// Closed when this process dies: the server's sign to clean up and go.
    owner_alive: Option<ParentOnly<std::io::PipeWriter>>,
}

impl Manager {
    /// Makes a private directory, forks the server (refused unless this
    /// process is single-threaded) and waits until it listens.
    ///
    /// # Errors
    /// [`Error::Multithreaded`] if this process has more than one thread;
    /// [`Error::Io`] or [`Error::Os`] if the directory, the socket or the fork
    /// fails; [`Error::State`] if the server died before it was ready.
    pub fn start() -> Result<Manager, Error> {
        Manager::start_with(None)
    }

    /// Starts a manager, as [`Manager::start`] does, that also serves
    /// `address` over TCP to any process, on this machine or another, that
    /// proves it knows `authkey` (see [`connect`]). Its objects and proxies
    /// are the same (the proxies made here reach them through the Unix
    /// socket, those made by a connected process through TCP). Python: `BaseManager(address=(host, port),
    /// authkey=key).start()`.
    ///
    /// Each TCP connection is a stranger until it proves the key: its
    /// frames are bounded (1 KiB) and the whole handshake must end within
    /// [`crate::connection::HANDSHAKE_TIMEOUT`], on a thread of its own, so
    /// a client that stalls or floods holds up nobody else. A peer whose
    /// host vanished is dropped within about
    /// [`crate::connection::PEER_LOSS_BOUND`] (TCP keepalive), with every
    /// reference and lock it held.
    ///
    /// # Errors
    /// As [`Manager::start`]; [`Error::Io`] if `address` cannot be bound.
    #[doc(alias = "BaseManager")]
    pub fn serve(address: SocketAddr, authkey: [u8; 32]) -> Result<Manager, Error> {
        let listener = TcpListener::bind(address).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot listen at tcp:{address}: {e}"),
            ))
        })?;
        Manager::start_with(Some((listener, authkey)))
    }

    fn start_with(tcp: Option<(TcpListener, [u8; 32])>) -> Result<Manager, Error> {
        let dir = private_dir()?;
        let socket = dir.join("manager.sock");
        let started = Manager::start_in(&dir, &socket, tcp);
        if started.is_err() {
            let _ = std::fs::remove_file(&socket);
            let _ = std::fs::remove_dir(&dir);
        }
        started
    }

    fn start_in(
        dir: &Path,
        socket: &Path,
        tcp: Option<(TcpListener, [u8; 32])>,
    ) -> Result<Manager, Error> {
        let tcp_address = match &tcp {
            Some((listener, _)) => Some(
                listener
                    .local_addr()
                    .map_err(|e| Error::os("getsockname", &e))?,
            ),
            None => None,
        };
        let listener = UnixListener::bind(socket).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot listen at {}: {e}", socket.display()),
            ))
        })?;
        let (mut ready_reader, ready) = std::io::pipe().map_err(|e| Error::os("pipe2", &e))?;
        // The server holds the read end of `life`; this process holds the
        // write end, and only this process (children close their copies).
        // When this process dies, however it dies, the server sees end of
        // stream, removes its socket and directory, and exits.
        let (life, owner_alive) = std::io::pipe().map_err(|e| Error::os("pipe2", &e))?;
        let owner_alive = ParentOnly::new(owner_alive);
        let start = Start {
            listener,
            ready,
            life,
            dir: dir.to_path_buf(),
            socket: socket.to_path_buf(),
            tcp,
        };
        let server = Process::start_with_code(move || serve(start))?;
        let manager = Manager {
            server: Some(server),
            dir: dir.to_path_buf(),
            socket: socket.to_path_buf(),
            tcp: tcp_address,
            owner_alive: Some(owner_alive),
        };
        // The parent's copies of the listener and the pipes' server ends are
        // gone (they moved into the closure). The server writes one byte
        // once it serves; end of stream means it died first.
        // `read_exact` retries a read that a signal interrupted (a handler
        // installed without SA_RESTART, as Python's `signal.signal` does).
        let mut byte = [0u8];
        match std::io::Read::read_exact(&mut ready_reader, &mut byte) {
            Ok(()) => Ok(manager),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Error::State(
                "the manager server exited before it was ready",
            )),
            Err(e) => Err(Error::os("read (the manager's ready pipe)", &e)),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<i32> {
        self.server.as_ref().map(Process::pid)
    }

    /// Where the server listens on this machine (a Unix socket). Python:
    /// `manager.address`.
    pub fn address(&self) -> &Path {
        &self.socket
    }

    /// Where the server also listens on TCP (with the port the kernel
    /// chose for port 0), if it was started by [`Manager::serve`].
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        self.tcp
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.socket.clone())
    }

    /// A new, empty dict in the server. Python: `manager.dict()`.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if the server cannot be reached;
    /// [`ManagerError::Remote`] if it refused.
    pub fn dict<V: Serialize + DeserializeOwned>(&self) -> Result<DictProxy<V>, ManagerError> {
        new_dict(&self.endpoint())
    }

    /// A new queue in the server (`maxsize` 0: no bound). Python:
    /// `manager.Queue(maxsize)`.
    ///
    /// # Errors
    /// As [`Manager::dict`].
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>, ManagerError> {
        new_queue(&self.endpoint(), maxsize)
    }

    /// A new lock in the server. Python: `manager.Lock()`.
    ///
    /// # Errors
    /// As [`Manager::dict`].
    pub fn lock(&self) -> Result<LockProxy, ManagerError> {
        new_lock(&self.endpoint())
    }

    /// How many objects the server holds now: each is freed when the last
    /// proxy of it, in any process, is dropped (or its process ends).
    /// Python: `manager._number_of_objects()`, a debugging aid.
    ///
    /// # Errors
    /// [`ManagerError::Gone`] if the server cannot be reached;
    /// [`ManagerError::Unresponsive`] if it does not answer within 5 s.
    #[doc(alias = "_number_of_objects")]
    pub fn number_of_objects(&self) -> Result<usize, ManagerError> {
        refs::count(&self.endpoint())
    }

    /// Stops the server, reaps it, and removes its socket and directory.
    /// Returns the server's exitcode. Python: `manager.shutdown()`.
    ///
    /// # Errors
    /// [`Error::Os`] if the server cannot be killed or reaped; [`Error::Io`] if
    /// its directory cannot be removed.
    pub fn shutdown(mut self) -> Result<i32, Error> {
        self.stop()
    }

    fn stop(&mut self) -> Result<i32, Error> {
        let Some(mut server) = self.server.take() else {
            return Ok(0);
        };
        // Ask politely; if it does not go within a second, kill it.
        let _ = Proxy::unheld(self.endpoint(), 0).call(&Request::Shutdown);
        refs::forget(&self.endpoint());
        let code = match server.join_timeout(Duration::from_secs(1))? {
            Some(code) => code,
            None => {
                server.kill()?;
                server.join()?
            }
        };
        self.owner_alive = None;
        // The server removes both as it goes; this covers a server killed.
        let _ = std::fs::remove_file(&self.socket);
        match std::fs::remove_dir(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Io(e)),
            _ => Ok(code),
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A manager served by another process, reached over TCP: the objects it
/// makes live in that server, and its proxies work as a [`Manager`]'s do.
/// Python: `BaseManager(address=(host, port), authkey=key).connect()`.
///
/// Dropping it leaves the server running (it belongs to whoever started it).
/// A child forked by [`crate::Process`] keeps the objects of the proxies it
/// copied, as with a local manager: the parent lends it a reference on each
/// just before the fork, which the child takes over as it starts (a round
/// trip per object; a server on another machine cannot watch the child's
/// pid, so it is told instead).
#[derive(Debug)]
pub struct RemoteManager {
    address: SocketAddr,
}

/// Connects to the manager served at `address` ([`Manager::serve`]),
/// proving this process knows `authkey` (and the server proving it does),
/// all within `timeout`. The key is kept in this process's memory for every
/// proxy of that server, and is never sent: only proofs of it are. Python:
/// `BaseManager(address=(host, port), authkey=key).connect()`.
///
/// # Errors
/// [`ManagerError::Refused`] if the key is not the server's;
/// [`ManagerError::Unresponsive`] if it did not connect and prove itself
/// by `timeout`; [`ManagerError::Gone`] if nothing listens there or it
/// closed the connection.
#[doc(alias = "BaseManager.connect")]
pub fn connect(
    address: SocketAddr,
    authkey: [u8; 32],
    timeout: Duration,
) -> Result<RemoteManager, ManagerError> {
    proxy::remember_key(address, authkey);
    let deadline = std::time::Instant::now().checked_add(timeout);
    proxy::connect(&Endpoint::Tcp(address), deadline)?;
    Ok(RemoteManager { address })
}

impl RemoteManager {
    /// The server's TCP address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn endpoint(&self) -> Endpoint {
        Endpoint::Tcp(self.address)
    }

    /// A new, empty dict in the server. Python: `manager.dict()`.
    ///
    /// # Errors
    /// As [`Manager::dict`]; [`ManagerError::Unresponsive`] if a new
    /// connection's handshake does not end within 5 s.
    pub fn dict<V: Serialize + DeserializeOwned>(&self) -> Result<DictProxy<V>, ManagerError> {
        new_dict(&self.endpoint())
    }

    /// A new queue in the server (`maxsize` 0: no bound). Python:
    /// `manager.Queue(maxsize)`.
    ///
    /// # Errors
    /// As [`RemoteManager::dict`].
    pub fn queue<T: Serialize + DeserializeOwned>(
        &self,
        maxsize: usize,
    ) -> Result<QueueProxy<T>, ManagerError> {
        new_queue(&self.endpoint(), maxsize)
    }

    /// A new lock in the server. Python: `manager.Lock()`.
    ///
    /// # Errors
    /// As [`RemoteManager::dict`].
    pub fn lock(&self) -> Result<LockProxy, ManagerError> {
        new_lock(&self.endpoint())
    }

    /// How many objects the server holds now (made by any client).
    ///
    /// # Errors
    /// As [`Manager::number_of_objects`].
    pub fn number_of_objects(&self) -> Result<usize, ManagerError> {
        refs::count(&self.endpoint())
    }
}

fn new_dict<V: Serialize + DeserializeOwned>(at: &Endpoint) -> Result<DictProxy<V>, ManagerError> {
    create(at, Kind::Dict).map(|base| DictProxy {
        base,
        value_type: PhantomData,
    })
}

fn new_queue<T: Serialize + DeserializeOwned>(
    at: &Endpoint,
    maxsize: usize,
) -> Result<QueueProxy<T>, ManagerError> {
    create(
        at,
        Kind::Queue {
            maxsize: maxsize as u64,
        },
    )
    .map(|base| QueueProxy {
        base,
        item_type: PhantomData,
    })
}

fn new_lock(at: &Endpoint) -> Result<LockProxy, ManagerError> {
    create(at, Kind::Lock).map(|base| LockProxy { base })
}

fn create(at: &Endpoint, kind: Kind) -> Result<Proxy, ManagerError> {
    let id = refs::create(at, kind)?;
    Ok(Proxy::created(at.clone(), id))
}

/// Makes a directory only this user can enter, under `$XDG_RUNTIME_DIR` or
/// the temp directory.
fn private_dir() -> Result<PathBuf, Error> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| owned_by_me_and_closed(p))
        .unwrap_or_else(std::env::temp_dir);
    // mkdtemp(3) makes the directory with mode 0700.
    nix::unistd::mkdtemp(&base.join("multiproc-XXXXXX")).map_err(|e| {
        Error::Io(std::io::Error::new(
            std::io::Error::from(e).kind(),
            format!(
                "cannot make the manager's directory in {}: {e} (it is $TMPDIR, else /tmp: \
                 set TMPDIR to a directory you can write)",
                base.display()
            ),
        ))
    })
}

/// `XDG_RUNTIME_DIR` is used only if it is a directory of this user that
/// nobody else may write: whoever owns it could swap our directory inside
/// it for one of theirs.
fn owned_by_me_and_closed(path: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::metadata(path).is_ok_and(|m| {
        m.is_dir()
            && m.uid() == nix::unistd::geteuid().as_raw()
            && m.permissions().mode() & 0o022 == 0
    })
}
