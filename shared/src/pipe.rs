//! [`Pipe`]s: a channel between exactly two endpoints, the counterpart of
//! Python's `multiprocessing.Pipe()`.
//!
//! `Pipe::duplex()` is a `socketpair(AF_UNIX, SOCK_STREAM)`: both ends send
//! and receive. `Pipe::one_way()` is a `pipe2`: a [`RecvEnd`] and a
//! [`SendEnd`], typed so that the wrong end cannot be used the wrong way
//! round (Python's `Pipe(duplex=False)` returns two `Connection`s and raises
//! `OSError` when you get it wrong; here it does not compile).
//!
//! Every message is one frame of the crate's wire format (see [`crate::wire`]).
//! Each end belongs to one process: after a fork, each side closes the end it
//! does not use, or end-of-stream never arrives.
//!
//! # What it costs
//! A message is encoded (one copy), written into the kernel's buffer (a
//! second), read out of it (a third) and decoded (a fourth, for a `Vec`):
//! small messages cost the two system calls, large ones the copies. A
//! one-way pipe holds the kernel's 64 KiB until its first frame over 128
//! KiB, then asks for 1 MiB, so that a large message crosses in one or two
//! rounds of fill and drain instead of sixteen: 1 MiB messages went from
//! 2.35 to 3.76 GB/s (medians of 8 alternating runs of `bench pipe-mib`; a
//! plain pipe of the same framing, the bench's raw column, 3.72).
//! ipc-channel moves the same messages at about 8 GB/s here: it hands
//! large ones over as shared memory instead of copying them through the
//! kernel, which a descriptor-passing socket would let this crate do too
//! (a one-way pipe cannot carry a descriptor).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::fcntl::OFlag;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::sys::deadline_after;
use crate::sys::poll_readable;
use crate::wire::{self, FrameReader, WireError};

/// Makes pipes. Python: `multiprocessing.Pipe`. See pipe(7) and
/// unix(7).
///
/// ```
/// use multiproc::Pipe;
///
/// let (mut left, mut right) = Pipe::duplex()?;
/// left.send("ping")?;
/// assert_eq!(right.recv::<String>()?, "ping");
/// right.send(&7u32)?;
/// assert_eq!(left.recv::<u32>()?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "multiprocessing.Pipe")]
pub struct Pipe;

impl Pipe {
    /// Two connected ends that can both send and receive. Python:
    /// `a, b = multiprocessing.Pipe()` (duplex is the default).
    ///
    /// # Errors
    /// [`Error::Io`] if `socketpair(2)` fails (out of descriptors).
    pub fn duplex() -> Result<(Connection, Connection), Error> {
        // std sets SOCK_CLOEXEC on both ends.
        let (a, b) = UnixStream::pair().map_err(|e| Error::os("socketpair", &e))?;
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
    /// `recv_end, send_end = multiprocessing.Pipe(duplex=False)`.
    ///
    /// # Errors
    /// [`Error::Os`] if `pipe2(2)` fails (out of descriptors).
    pub fn one_way() -> Result<(RecvEnd, SendEnd), Error> {
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::Os("pipe2", e))?;
        Ok((
            RecvEnd {
                file: Some(File::from(read)),
                reader: FrameReader::new(),
            },
            SendEnd {
                file: Some(File::from(write)),
                grown: false,
            },
        ))
    }
}

/// One end of a duplex pipe. Python: `multiprocessing.connection.Connection`.
///
/// ```standalone_crate
/// // A program of its own: its one thread may fork.
/// use multiproc::{Pipe, Process};
///
/// let (mut parent_end, mut child_end) = Pipe::duplex()?;
/// let mut child = Process::start(|| {
///     let n: u32 = child_end.recv().unwrap();
///     child_end.send(&(n * n)).unwrap();
/// })?;
/// parent_end.send(&12u32)?;
/// assert_eq!(parent_end.recv::<u32>()?, 144);
/// child.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[doc(alias = "multiprocessing.connection.Connection")]
#[derive(Debug)]
pub struct Connection {
    stream: Option<UnixStream>,
    reader: FrameReader,
}

/// The receiving end of a one-way pipe (named so as not to be mistaken for
/// `std::io::PipeReader`, which carries bytes, not messages). Python: the
/// first `Connection` of
/// `Pipe(duplex=False)`.
#[derive(Debug)]
pub struct RecvEnd {
    file: Option<File>,
    reader: FrameReader,
}

/// The sending end of a one-way pipe (not `std::io::PipeWriter`). Python:
/// the second `Connection` of
/// `Pipe(duplex=False)`.
///
/// ```
/// use multiproc::Pipe;
///
/// let (mut recv_end, mut send_end) = Pipe::one_way()?;
/// send_end.send(&[1u8, 2, 3])?;
/// assert_eq!(recv_end.recv::<[u8; 3]>()?, [1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SendEnd {
    file: Option<File>,
    /// Whether the pipe was asked to grow (see `make_room`).
    grown: bool,
}

/// A one-way pipe grows before the first frame over this many bytes.
const GROW_AT: usize = 128 << 10;

/// The size it asks for: the default `/proc/sys/fs/pipe-max-size`, which
/// any user may ask for.
const LARGE_PIPE: libc::c_int = 1 << 20;

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
    let deadline = timeout.and_then(deadline_after);
    let ready = poll_readable(&[fd.as_fd().as_raw_fd()], deadline)?;
    Ok(ready[0])
}

/// The sending half of the API, shared by [`Connection`] and [`SendEnd`].
macro_rules! sender {
    ($field:ident) => {
        /// Sends one value as one message. Python: `Connection.send(obj)`.
        ///
        /// # Errors
        /// [`WireError::BrokenPipe`] if the other end is closed everywhere;
        /// [`WireError::Encode`], [`WireError::TooLargeToSend`], [`WireError::Io`]
        /// (also after [`close`](Self::close)).
        pub fn send<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WireError> {
            self.$field.as_ref().ok_or_else(closed)?;
            let frame = wire::encode_frame(value)?;
            self.make_room(frame.len());
            let end = self.$field.as_mut().ok_or_else(closed)?;
            sending(std::io::Write::write_all(end, &frame).map_err(WireError::from))
        }

        /// Sends raw bytes as one message. Python: `Connection.send_bytes(buf)`.
        ///
        /// # Errors
        /// As [`send`](Self::send).
        pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), WireError> {
            self.make_room(4 + bytes.len());
            let end = self.$field.as_mut().ok_or_else(closed)?;
            sending(wire::write_frame(end, bytes))
        }
    };
}

/// The receiving half of the API, shared by [`Connection`] and [`RecvEnd`].
macro_rules! receiver {
    ($field:ident) => {
        /// Waits for the next message and decodes it. Python:
        /// `Connection.recv()`.
        ///
        /// # Errors
        /// [`WireError::Eof`] once every copy of the other end is closed and
        /// nothing is left (Python: `EOFError`); [`WireError::Truncated`] if
        /// it was closed in the middle of a message; [`WireError::Decode`] if
        /// the message is not a `T`; [`WireError::Io`] (also after
        /// [`close`](Self::close)).
        pub fn recv<T: DeserializeOwned>(&mut self) -> Result<T, WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            self.reader.recv_value(end)
        }

        /// Waits for the next message and returns its bytes. Python:
        /// `Connection.recv_bytes()`.
        ///
        /// # Errors
        /// As [`recv`](Self::recv), but for decoding.
        pub fn recv_bytes(&mut self) -> Result<Vec<u8>, WireError> {
            let end = self.$field.as_mut().ok_or_else(closed)?;
            self.reader.read_frame(end)
        }

        /// True if a message (or end-of-stream) is waiting, after waiting at
        /// most `timeout` (`None`: wait as long as it takes). Python:
        /// `Connection.poll(timeout)`.
        ///
        /// # Errors
        /// [`WireError::Io`] if `poll(2)` fails or this end was closed.
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

    /// A socket's buffers grow as it needs them: nothing to do.
    fn make_room(&mut self, _frame_len: usize) {}
}

/// Only the receiving end can receive, and only the sending end send: the
/// wrong way round does not compile.
///
/// ```compile_fail,E0599
/// let (mut recv_end, _send_end) = multiproc::Pipe::one_way().unwrap();
/// recv_end.send(&1u32); // error[E0599]: no method named `send` found for struct `RecvEnd`
/// ```
impl RecvEnd {
    receiver!(file);
    closer!(file);
}

impl SendEnd {
    sender!(file);
    closer!(file);

    /// Before the first frame over [`GROW_AT`]: asks for a pipe of
    /// [`LARGE_PIPE`]. With the kernel's default 64 KiB, a 1 MiB message
    /// crosses in 16 rounds of fill, wake the reader, drain, wake the
    /// writer; with 1 MiB, in one or two (measured: 1 MiB messages 600 to
    /// 750 MB/s before, 1.8 to 2.1 GB/s after, on plain `write`s). Smaller
    /// messages leave the pipe as it is, so everything lesson 05 shows of a
    /// pipe's size holds for them. If the kernel refuses (the size is over
    /// `/proc/sys/fs/pipe-max-size`, or the user's pipe memory is spent),
    /// the pipe stays as it was: only slower.
    fn make_room(&mut self, frame_len: usize) {
        if frame_len <= GROW_AT || self.grown {
            return;
        }
        self.grown = true;
        if let Some(file) = &self.file {
            let _ = nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_SETPIPE_SZ(LARGE_PIPE));
        }
    }

    /// The raw file, to write bytes outside the framing (tests use this to
    /// play a buggy writer). `None` once closed.
    pub fn into_file(mut self) -> Option<File> {
        self.file.take()
    }
}
