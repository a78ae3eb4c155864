//! [`Pipe`]s: a channel between exactly two endpoints, the counterpart of
//! Python's `multiprocessing.Pipe()`.
//!
//! `Pipe::duplex()` is a `socketpair(AF_UNIX, SOCK_STREAM)`: both ends send
//! and receive. `Pipe::one_way()` is a `pipe2`: a [`PipeReader`] and a
//! [`PipeWriter`], typed so that the wrong end cannot be used the wrong way
//! round (Python's `Pipe(duplex=False)` returns two `Connection`s and raises
//! `OSError` when you get it wrong; here it does not compile).
//!
//! Every message is one frame of the crate's wire format (see [`crate::wire`]).
//! Each end belongs to one process: after a fork, each side closes the end it
//! does not use, or end-of-stream never arrives.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::sys::poll_readable;
use crate::wire::{self, FrameReader, WireError};

/// Makes pipes. Python: `multiprocessing.Pipe`.
pub struct Pipe;

impl Pipe {
    /// Two connected ends that can both send and receive. Python:
    /// `a, b = multiprocessing.Pipe()` (duplex is the default).
    pub fn duplex() -> Result<(Connection, Connection), Error> {
        // std sets SOCK_CLOEXEC on both ends.
        let (a, b) = UnixStream::pair().map_err(Error::Io)?;
        Ok((
            Connection {
                stream: Some(a),
                reader: FrameReader::new(),
            },
            Connection {
                stream: Some(b),
                reader: FrameReader::new(),
            },
        ))
    }

    /// A reading end and a writing end. Python:
    /// `reader, writer = multiprocessing.Pipe(duplex=False)`.
    pub fn one_way() -> Result<(PipeReader, PipeWriter), Error> {
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Os("pipe2", e))?;
        Ok((
            PipeReader {
                file: Some(File::from(read)),
                reader: FrameReader::new(),
            },
            PipeWriter {
                file: Some(File::from(write)),
            },
        ))
    }
}

/// One end of a duplex pipe. Python: `multiprocessing.connection.Connection`.
#[derive(Debug)]
pub struct Connection {
    stream: Option<UnixStream>,
    reader: FrameReader,
}

/// The reading end of a one-way pipe. Python: the first `Connection` of
/// `Pipe(duplex=False)`.
#[derive(Debug)]
pub struct PipeReader {
    file: Option<File>,
    reader: FrameReader,
}

/// The writing end of a one-way pipe. Python: the second `Connection` of
/// `Pipe(duplex=False)`.
#[derive(Debug)]
pub struct PipeWriter {
    file: Option<File>,
}

fn closed() -> WireError {
    WireError::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "this end was closed with close()",
    ))
}

/// Turns `EPIPE` into [`WireError::BrokenPipe`]. Rust ignores `SIGPIPE`, so
/// writing to a pipe nobody reads is an error, not a killed process.
fn sending(result: Result<(), WireError>) -> Result<(), WireError> {
    match result {
        Err(WireError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            Err(WireError::BrokenPipe)
        }
        other => other,
    }
}

fn wait_readable(fd: &impl AsFd, timeout: Option<Duration>) -> Result<bool, WireError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let ready = poll_readable(&[fd.as_fd().as_raw_fd()], deadline).map_err(|e| match e {
        Error::Io(io) => WireError::Io(io),
        other => WireError::Io(io::Error::other(other.to_string())),
    })?;
    Ok(ready[0])
}

/// The sending half of the API, shared by [`Connection`] and [`PipeWriter`].
macro_rules! sender {
    ($field:ident) => {
        /// Sends one value as one message. Python: `Connection.send(obj)`.
        /// `Err(BrokenPipe)` if the other end is closed everywhere.
        pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            sending(wire::send_value(end, value))
        }

        /// Sends raw bytes as one message. Python: `Connection.send_bytes(buf)`.
        pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            sending(wire::write_frame(end, bytes))
        }
    };
}

/// The receiving half of the API, shared by [`Connection`] and [`PipeReader`].
macro_rules! receiver {
    ($field:ident) => {
        /// Waits for the next message and decodes it. Python:
        /// `Connection.recv()`. `Err(Eof)` once every copy of the other end is
        /// closed and nothing is left; `Err(Truncated)` if it was closed in
        /// the middle of a message.
        pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            self.reader.recv_value(end)
        }

        /// Waits for the next message and returns its bytes. Python:
        /// `Connection.recv_bytes()`.
        pub fn recv_bytes(&mut self) -> Result<Vec<u8>, WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            self.reader.read_frame(end)
        }

        /// True if a message (or end-of-stream) is waiting, after waiting at
        /// most `timeout` (`None`: wait as long as it takes). Python:
        /// `Connection.poll(timeout)`.
        pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, WireError> {
            let end = self.$field.as_ref().ok_or_else(closed)?;
            // Bytes already read into this end's buffer are waiting too.
            Ok(self.reader.has_buffered() || wait_readable(end, timeout)?)
        }
    };
}

/// `close()`, shared by all three ends.
macro_rules! closer {
    ($field:ident) => {
        /// Closes this end in this process. Python: `Connection.close()`.
        /// Later calls on it fail; other processes' copies stay open.
        pub fn close(&mut self) {
            self.$field = None;
        }

        /// True until [`close`](Self::close) is called. Python:
        /// `not Connection.closed`.
        pub fn is_open(&self) -> bool {
            self.$field.is_some()
        }
    };
}

impl Connection {
    sender!(stream);
    receiver!(stream);
    closer!(stream);
}

impl PipeReader {
    receiver!(file);
    closer!(file);
}

impl PipeWriter {
    sender!(file);
    closer!(file);

    /// The raw file, to write bytes outside the framing (tests use this to
    /// play a buggy writer). `None` once closed.
    pub fn into_file(mut self) -> Option<File> {
        self.file.take()
    }
}
