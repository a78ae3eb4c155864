//! [`Listener`] and [`connect`]: messages between processes that did not
//! fork one another, over a Unix socket or TCP, the counterpart of Python's
//! `multiprocessing.connection` (`Listener`, `Client`, `Connection`).
//!
//! A [`Pipe`](crate::Pipe) or a [`Queue`](crate::Queue) reaches only the
//! processes forked after it was made. A listener has an address that any
//! process may dial, on this machine (a Unix socket, or TCP on loopback) or
//! on another one (TCP). What changes then is what a course on processes
//! has to say:
//! - Nothing is inherited: the authkey is all that keeps strangers out. Both
//!   sides prove they know it before any message (HMAC-SHA256 challenges
//!   both ways, as the manager does), so neither talks to an impostor.
//!   Serving TCP beyond loopback without an authkey is refused.
//! - Before that proof, a peer is a stranger: its frames are bounded (1 KiB)
//!   and the whole handshake has one deadline, however slowly it trickles
//!   its bytes, so a client that sends garbage, stalls or floods fails its
//!   own `accept` within [`HANDSHAKE_TIMEOUT`] and leaves the listener as it
//!   was.
//! - Every wait has a deadline: [`Link::recv_timeout`],
//!   [`Link::send_timeout`], [`Listener::accept_timeout`], and the handshake.
//!   A TCP peer whose host drops off the network sends no FIN: keepalive
//!   probes (after 5 s of silence, 5 probes 1 s apart) and
//!   `TCP_USER_TIMEOUT` (10 s for data left unacknowledged) turn that into
//!   an error within about [`PEER_LOSS_BOUND`] even in an untimed `recv`.
//!
//! ```
//! use multiproc::connection::{Address, Listener, connect};
//!
//! let key = [7u8; 32];
//! let listener = Listener::bind(Address::tcp("127.0.0.1:0".parse()?), Some(key))?;
//! let address = listener.address().clone();
//! let client = std::thread::spawn(move || {
//!     let mut link = connect(&address, Some(key), std::time::Duration::from_secs(5))?;
//!     link.send(&"ping")?;
//!     link.recv::<String>()
//! });
//! let mut link = listener.accept()?;
//! let ping: String = link.recv()?;
//! link.send(&format!("{ping} pong"))?;
//! assert_eq!(client.join().unwrap()?, "ping pong");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt};

pub use crate::auth::HANDSHAKE_TIMEOUT;
mod link;

pub use link::Link;
pub(crate) use link::Stream;

use crate::auth::{self, HandshakeError};
use crate::sys::poll_readable;
use crate::wire::{FrameReader, WireError};

/// How long a TCP peer that vanished without closing (its host dropped off
/// the network) can go unnoticed: 5 s of silence, then 5 keepalive probes 1
/// s apart; or 10 s of unacknowledged data. Give it a few hundred ms more:
/// the scenario `net-vanished-peer` (two network namespaces joined by a
/// veth pair, one side's link set down) measured 10.4 s.
pub const PEER_LOSS_BOUND: Duration = Duration::from_secs(10);

/// Where a [`Listener`] listens and [`connect`] dials. Python: a path
/// string, or a `(host, port)` tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A Unix socket: a file path, on this machine only.
    Unix(PathBuf),
    /// A TCP address: an IP address and a port (port 0: any free one).
    Tcp(SocketAddr),
}

impl Address {
    /// A TCP address.
    pub fn tcp(address: SocketAddr) -> Address {
        Address::Tcp(address)
    }

    /// A Unix socket's address.
    pub fn unix(path: impl Into<PathBuf>) -> Address {
        Address::Unix(path.into())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Tcp(address) => write!(f, "tcp:{address}"),
        }
    }
}

/// Why a listener or a link failed, said so that the reader knows what to
/// do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum LinkError {
    /// Listening there without an authkey would let anyone on the network
    /// in: nothing was bound.
    Unsafe(String),
    /// The other side does not know the authkey, or said no; the reason.
    /// (Python: `multiprocessing.AuthenticationError`.)
    #[doc(alias = "AuthenticationError")]
    Refused(String),
    /// Nothing came, or nothing could be sent, by the deadline.
    TimedOut {
        /// What was being done.
        during: &'static str,
        /// How long it waited.
        waited: Duration,
    },
    /// A message could not cross: the peer closed (`WireError::Eof`), a
    /// frame was cut or too large, or not the expected type.
    Wire(WireError),
    /// A system call failed: which one, and why.
    Io(&'static str, io::Error),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Unsafe(why) => f.write_str(why),
            LinkError::Refused(why) => write!(f, "refused: {why}"),
            LinkError::TimedOut { during, waited } => write!(
                f,
                "timed out after {waited:?} {during}: the peer is slow, stopped, or unreachable"
            ),
            LinkError::Wire(e) => write!(f, "{e}"),
            LinkError::Io(call, e) => write!(f, "{call} failed: {e}"),
        }
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LinkError::Wire(e) => Some(e),
            LinkError::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<WireError> for LinkError {
    fn from(e: WireError) -> Self {
        LinkError::Wire(e)
    }
}

/// A listening socket. Python: `multiprocessing.connection.Listener`.
#[doc(alias = "multiprocessing.connection.Listener")]
#[derive(Debug)]
pub struct Listener {
    socket: ListeningSocket,
    address: Address,
    authkey: Option<[u8; 32]>,
}

#[derive(Debug)]
enum ListeningSocket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    /// Listens at `address`. With an `authkey`, every client must prove it
    /// knows the key before its first message, and the listener proves it
    /// too. Without one, anyone who can reach the address is served: so a
    /// TCP address other than loopback (127.0.0.0/8, ::1) is refused.
    ///
    /// # Errors
    /// [`LinkError::Unsafe`] for a TCP address beyond loopback without an
    /// authkey (nothing is bound); [`LinkError::Io`] if `bind` fails (the
    /// address is taken, or the path exists).
    pub fn bind(address: Address, authkey: Option<[u8; 32]>) -> Result<Listener, LinkError> {
        let (socket, address) = match address {
            Address::Tcp(at) => {
                if authkey.is_none() && !at.ip().is_loopback() {
                    return Err(LinkError::Unsafe(format!(
                        "refusing to serve {at} without an authkey: anyone on the network \
                         could send requests. Give an authkey, or listen on 127.0.0.1"
                    )));
                }
                let listener = TcpListener::bind(at).map_err(|e| LinkError::Io("bind", e))?;
                let bound = listener
                    .local_addr()
                    .map_err(|e| LinkError::Io("getsockname", e))?;
                (ListeningSocket::Tcp(listener), Address::Tcp(bound))
            }
            Address::Unix(path) => {
                let listener = UnixListener::bind(&path).map_err(|e| LinkError::Io("bind", e))?;
                (ListeningSocket::Unix(listener), Address::Unix(path))
            }
        };
        Ok(Listener {
            socket,
            address,
            authkey,
        })
    }

    /// Where it listens (for TCP port 0, with the port the kernel chose).
    /// Python: `Listener.address`.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Waits for the next client, as long as it takes, and runs the
    /// handshake with it. Python: `Listener.accept()`.
    ///
    /// # Errors
    /// As [`Listener::accept_timeout`], without its timeout.
    pub fn accept(&self) -> Result<Link, LinkError> {
        self.accept_until(None)
    }

    /// Waits up to `timeout` for the next client, then runs the handshake
    /// with it (within [`HANDSHAKE_TIMEOUT`] more). A client that fails the
    /// handshake is dropped and its error returned; the listener is as it
    /// was, ready for the next.
    ///
    /// # Errors
    /// [`LinkError::TimedOut`] if no client came, or one did not finish the
    /// handshake in time; [`LinkError::Refused`] if it did not know the
    /// authkey; [`LinkError::Wire`] if it sent something else than the
    /// handshake (garbage, a frame over 1 KiB) or hung up;
    /// [`LinkError::Io`] if `accept` failed.
    pub fn accept_timeout(&self, timeout: Duration) -> Result<Link, LinkError> {
        self.accept_until(Instant::now().checked_add(timeout))
    }

    fn accept_until(&self, deadline: Option<Instant>) -> Result<Link, LinkError> {
        let started = Instant::now();
        let fd = match &self.socket {
            ListeningSocket::Unix(l) => l.as_raw_fd(),
            ListeningSocket::Tcp(l) => l.as_raw_fd(),
        };
        if !readable_by(fd, deadline)? {
            return Err(LinkError::TimedOut {
                during: "waiting for a client",
                waited: started.elapsed(),
            });
        }
        let stream = match &self.socket {
            ListeningSocket::Unix(l) => Stream::Unix(l.accept().map_err(io_of("accept"))?.0),
            ListeningSocket::Tcp(l) => {
                let (stream, _) = l.accept().map_err(io_of("accept"))?;
                tune_tcp(&stream)?;
                Stream::Tcp(stream)
            }
        };
        let mut link = Link {
            stream,
            reader: FrameReader::new(),
        };
        if let Some(key) = &self.authkey {
            let until = Instant::now() + HANDSHAKE_TIMEOUT;
            let shaken = auth::server_side(&mut link.stream, &mut link.reader, key, until);
            handshake_result(shaken, "in the handshake with a client", HANDSHAKE_TIMEOUT)?;
        }
        Ok(link)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // A Unix socket's file outlives its socket: remove it, as Python's
        // Listener.close() does.
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Dials `address` and runs the handshake (with an `authkey`), all within
/// `timeout`. Python: `multiprocessing.connection.Client(address, authkey=...)`.
///
/// # Errors
/// [`LinkError::Io`] if nothing listens there (`connect` failed);
/// [`LinkError::TimedOut`] if the connection or the handshake did not finish
/// by `timeout`; [`LinkError::Refused`] if the listener refused this
/// process's key, or did not prove it knows it (an impostor);
/// [`LinkError::Wire`] if it spoke something else.
#[doc(alias = "Client")]
#[doc(alias = "multiprocessing.connection.Client")]
pub fn connect(
    address: &Address,
    authkey: Option<[u8; 32]>,
    timeout: Duration,
) -> Result<Link, LinkError> {
    let deadline = Instant::now() + timeout;
    let stream = match address {
        Address::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(io_of("connect"))?),
        Address::Tcp(at) => {
            let stream = TcpStream::connect_timeout(at, timeout).map_err(|e| {
                if e.kind() == io::ErrorKind::TimedOut {
                    LinkError::TimedOut {
                        during: "connecting",
                        waited: timeout,
                    }
                } else {
                    LinkError::Io("connect", e)
                }
            })?;
            tune_tcp(&stream)?;
            Stream::Tcp(stream)
        }
    };
    let mut link = Link {
        stream,
        reader: FrameReader::new(),
    };
    if let Some(key) = &authkey {
        let shaken = auth::client_side(&mut link.stream, &mut link.reader, key, deadline);
        handshake_result(shaken, "in the handshake with the listener", timeout)?;
    }
    Ok(link)
}

/// A TCP socket as a link wants it: no Nagle delay for small messages, and
/// a peer that vanished noticed within [`PEER_LOSS_BOUND`].
pub(crate) fn tune_tcp(stream: &TcpStream) -> Result<(), LinkError> {
    let set = |what: &'static str, result: nix::Result<()>| {
        result.map_err(|errno| LinkError::Io(what, io::Error::from(errno)))
    };
    stream
        .set_nodelay(true)
        .map_err(io_of("setsockopt TCP_NODELAY"))?;
    set(
        "setsockopt SO_KEEPALIVE",
        setsockopt(stream, sockopt::KeepAlive, &true),
    )?;
    set(
        "setsockopt TCP_KEEPIDLE",
        setsockopt(stream, sockopt::TcpKeepIdle, &5),
    )?;
    set(
        "setsockopt TCP_KEEPINTVL",
        setsockopt(stream, sockopt::TcpKeepInterval, &1),
    )?;
    set(
        "setsockopt TCP_KEEPCNT",
        setsockopt(stream, sockopt::TcpKeepCount, &5),
    )?;
    let user_timeout = PEER_LOSS_BOUND.as_millis() as u32;
    set(
        "setsockopt TCP_USER_TIMEOUT",
        setsockopt(stream, sockopt::TcpUserTimeout, &user_timeout),
    )
}

/// The handshake's outcome as a [`LinkError`].
fn handshake_result(
    result: Result<(), HandshakeError>,
    during: &'static str,
    waited: Duration,
) -> Result<(), LinkError> {
    match result {
        Ok(()) => Ok(()),
        Err(HandshakeError::WrongKey(why)) => Err(LinkError::Refused(why.into())),
        Err(HandshakeError::Refused(why)) => Err(LinkError::Refused(why)),
        Err(HandshakeError::Wire(WireError::Io(e))) if e.kind() == io::ErrorKind::TimedOut => {
            Err(LinkError::TimedOut { during, waited })
        }
        Err(HandshakeError::Wire(e)) => Err(LinkError::Wire(e)),
    }
}

/// Whether `fd` is readable (or hung up) by `deadline` (`None`: no deadline).
pub(super) fn readable_by(
    fd: std::os::fd::RawFd,
    deadline: Option<Instant>,
) -> Result<bool, LinkError> {
    poll_readable(&[fd], deadline)
        .map(|ready| ready[0])
        .map_err(|e| LinkError::Io("poll", io::Error::other(e)))
}

pub(super) fn io_of(call: &'static str) -> impl Fn(io::Error) -> LinkError {
    move |e| LinkError::Io(call, e)
}
