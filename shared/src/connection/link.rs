//! [`Link`]: one end of an authenticated connection, and the socket under
//! it (Unix or TCP, one interface over both).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{LinkError, io_of, readable_by};
use crate::wire::{self, FrameReader, WireError};

/// The socket of a link (and of a manager's connections): one interface
/// over both kinds.
#[derive(Debug)]
pub(crate) enum Stream {
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

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.as_fd().as_raw_fd()
    }
}

impl Stream {
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_write_timeout(timeout),
            Stream::Tcp(s) => s.set_write_timeout(timeout),
        }
    }

    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(timeout),
            Stream::Tcp(s) => s.set_read_timeout(timeout),
        }
    }

    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
        })
    }
}

/// One end of an authenticated connection: messages both ways, with or
/// without deadlines. Python: `multiprocessing.connection.Connection`.
#[doc(alias = "multiprocessing.connection.Connection")]
#[derive(Debug)]
pub struct Link {
    pub(super) stream: Stream,
    pub(super) reader: FrameReader,
}

impl Link {
    /// Sends one value as one message, as long as it takes (a peer that
    /// vanished is noticed within about [`PEER_LOSS_BOUND`](super::PEER_LOSS_BOUND)). Python:
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
    /// vanished is noticed within about [`PEER_LOSS_BOUND`](super::PEER_LOSS_BOUND)), and decodes
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
