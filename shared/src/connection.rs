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
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::socket::{setsockopt, sockopt};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::auth::HANDSHAKE_TIMEOUT;
use crate::auth::{self, HandshakeError};
use crate::sys::poll_readable;
use crate::wire::{self, FrameReader, WireError};

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

/// The socket of a link: one interface over both kinds.
#[derive(Debug)]
enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

impl Stream {
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(timeout),
            Stream::Tcp(s) => s.set_write_timeout(timeout),
        }
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

/// One end of an authenticated connection: messages both ways, with or
/// without deadlines. Python: `multiprocessing.connection.Connection`.
#[doc(alias = "multiprocessing.connection.Connection")]
#[derive(Debug)]
pub struct Link {
    stream: Stream,
    reader: FrameReader,
}

impl Link {
    /// Sends one value as one message, as long as it takes (a peer that
    /// vanished is noticed within about [`PEER_LOSS_BOUND`]). Python:
    /// `Connection.send(obj)`.
    ///
    /// # Errors
    /// As [`Link::send_timeout`], without its timeout.
    pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LinkError> {
        self.send_until(value, None)
    }

    /// Sends one value as one message, within `timeout` (a peer that does
    /// not read fills the buffers between us; then the send waits).
    ///
    /// # Errors
    /// [`LinkError::TimedOut`] at the deadline (part of the message may
    /// have gone: close the link); [`LinkError::Wire`] if the value cannot
    /// be encoded or the peer closed.
    pub fn send_timeout<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        self.send_until(value, Instant::now().checked_add(timeout))
    }

    fn send_until<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
        deadline: Option<Instant>,
    ) -> Result<(), LinkError> {
        let started = Instant::now();
        let frame = wire::encode_frame(value)?;
        let mut sent = 0;
        while sent < frame.len() {
            // Each write waits at most the time that is left, so the whole
            // send keeps the one deadline.
            let left = deadline.map(|d| {
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1))
            });
            self.stream
                .set_write_timeout(left)
                .map_err(io_of("setsockopt"))?;
            match self.stream.write(&frame[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(LinkError::TimedOut {
                        during: "sending",
                        waited: started.elapsed(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(WireError::BrokenPipe.into());
                }
                Err(e) => return Err(WireError::Io(e).into()),
            }
        }
        Ok(())
    }

    /// Waits for the next message, as long as it takes (a peer that
    /// vanished is noticed within about [`PEER_LOSS_BOUND`]), and decodes
    /// it. Python: `Connection.recv()`.
    ///
    /// # Errors
    /// As [`Link::recv_timeout`], without its timeout.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, LinkError> {
        self.recv_until(None)
    }

    /// Waits up to `timeout` for the next message, and decodes it. Python:
    /// `if conn.poll(timeout): conn.recv()`.
    ///
    /// # Errors
    /// [`LinkError::TimedOut`] if no whole message came in time (what came
    /// of one stays buffered for the next call); [`LinkError::Wire`] with
    /// `WireError::Eof` once the peer closed, or another `WireError`.
    pub fn recv_timeout<T: DeserializeOwned>(&mut self, timeout: Duration) -> Result<T, LinkError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    fn recv_until<T: DeserializeOwned>(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<T, LinkError> {
        let started = Instant::now();
        loop {
            if let Some(frame) = self.reader.take_frame()? {
                return postcard::from_bytes(&frame).map_err(|e| WireError::Decode(e).into());
            }
            let fd = self.stream.as_fd().as_raw_fd();
            if !readable_by(fd, deadline)? {
                return Err(LinkError::TimedOut {
                    during: "waiting for a message",
                    waited: started.elapsed(),
                });
            }
            match self.reader.fill_available(&mut self.stream) {
                Ok(0) if self.reader.has_buffered() => {
                    return Err(WireError::Truncated {
                        expected: self.reader.next_len().map_or(4, |len| 4 + len),
                        got: self.reader.buffered_len(),
                    }
                    .into());
                }
                Ok(0) => return Err(WireError::Eof.into()),
                Ok(_) => {}
                Err(WireError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                    // TCP_USER_TIMEOUT or keepalive gave up on the peer.
                    return Err(LinkError::Io(
                        "recv (the peer stopped answering the network)",
                        e,
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether a message (or the end of the stream) is waiting, after up to
    /// `timeout`. Python: `Connection.poll(timeout)`.
    ///
    /// # Errors
    /// [`LinkError::Io`] if `poll` fails.
    pub fn poll(&self, timeout: Duration) -> Result<bool, LinkError> {
        if self.reader.has_frame() {
            return Ok(true);
        }
        let fd = self.stream.as_fd().as_raw_fd();
        readable_by(fd, Instant::now().checked_add(timeout))
    }
}

/// A TCP socket as a link wants it: no Nagle delay for small messages, and
/// a peer that vanished noticed within [`PEER_LOSS_BOUND`].
fn tune_tcp(stream: &TcpStream) -> Result<(), LinkError> {
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
fn readable_by(fd: std::os::fd::RawFd, deadline: Option<Instant>) -> Result<bool, LinkError> {
    poll_readable(&[fd], deadline)
        .map(|ready| ready[0])
        .map_err(|e| LinkError::Io("poll", io::Error::other(e)))
}

fn io_of(call: &'static str) -> impl Fn(io::Error) -> LinkError {
    move |e| LinkError::Io(call, e)
}
