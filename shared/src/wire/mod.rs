//! One wire format for every pipe and socket in the crate: a 4-byte
//! big-endian length, then the payload.
//!
//! Python's `multiprocessing.connection` frames its pickles the same way. Our
//! payloads are serde values encoded with postcard, the course's counterpart of
//! pickle. A length over [`MAX_FRAME`] is refused before anything is allocated,
//! so a corrupt or hostile prefix cannot make the reader ask for 4 GiB.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest payload a frame may carry: 64 MiB.
///
/// Python's counterpart has no such limit below 2 GiB; a stated maximum turns a
/// corrupt length prefix into a clear error instead of a huge allocation.
pub const MAX_FRAME: usize = 64 << 20;

/// Why a frame could not be read or written.
///
/// ```
/// use multiproc::{Pipe, WireError};
///
/// let (mut recv_end, send_end) = Pipe::one_way()?;
/// drop(send_end); // every write end closed, nothing sent
/// assert!(matches!(recv_end.recv::<String>(), Err(WireError::Eof)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WireError {
    /// The peer closed its end at a frame boundary: an orderly end of stream.
    /// (Python's `Connection.recv` raises `EOFError`.)
    #[doc(alias = "EOFError")]
    Eof,
    /// The peer closed its end in the middle of a frame.
    Truncated {
        /// Bytes the frame promised (prefix included).
        expected: usize,
        /// Bytes that arrived before the end of stream.
        got: usize,
    },
    /// The length prefix announced more than the limit; nothing was allocated.
    TooLarge {
        /// The announced payload length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// A message to send is over the limit; nothing was sent.
    TooLargeToSend {
        /// The message's encoded length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The payload was not a valid postcard encoding of the expected type.
    Decode(postcard::Error),
    /// The payload could not be encoded.
    Encode(postcard::Error),
    /// The other end was closed everywhere: nobody can read what is sent.
    /// (Rust ignores `SIGPIPE`, so this is an error, not a killed process.)
    #[doc(alias = "BrokenPipeError")]
    BrokenPipe,
    /// Any other I/O error.
    Io(io::Error),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Eof => write!(f, "end of stream: the other end was closed"),
            WireError::Truncated { expected, got } => write!(
                f,
                "truncated frame: the other end closed after {got} of {expected} bytes"
            ),
            WireError::TooLarge { len, max } => write!(
                f,
                "frame length {len} is over the limit of {max} bytes: refused before allocating \
                 (a corrupt stream, or a second writer on the same end?)"
            ),
            WireError::TooLargeToSend { len, max } => write!(
                f,
                "this message is {len} bytes encoded, over the limit of {max} bytes: nothing was \
                 sent (send it in parts, or send where to find it)"
            ),
            WireError::Decode(e) => write!(
                f,
                "could not decode the message ({e}): the sender used another type"
            ),
            WireError::Encode(e) => write!(f, "could not encode the message: {e}"),
            WireError::BrokenPipe => write!(
                f,
                "broken pipe: the receiving end is closed in every process, so nobody can read this"
            ),
            WireError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for WireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WireError::Io(e) => Some(e),
            WireError::Decode(e) | WireError::Encode(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

/// Writes one frame: the length prefix and the payload in a single buffer, so a
/// small frame is one `write(2)`. `write_all` loops over short writes and
/// `EINTR`. Python: `Connection.send_bytes(payload)`.
///
/// # Errors
/// [`WireError::TooLargeToSend`] if `payload` is over [`MAX_FRAME`];
/// [`WireError::Io`] if the write fails.
pub fn write_frame(out: &mut impl Write, payload: &[u8]) -> Result<(), WireError> {
    if payload.len() > MAX_FRAME {
        return Err(WireError::TooLargeToSend {
            len: payload.len(),
            max: MAX_FRAME,
        });
    }
    let prefix = u32::try_from(payload.len())
        .expect("MAX_FRAME fits in the 4-byte prefix")
        .to_be_bytes();
    if payload.len() <= COPY_LIMIT {
        let mut frame = Vec::with_capacity(4 + payload.len());
        frame.extend_from_slice(&prefix);
        frame.extend_from_slice(payload);
        out.write_all(&frame)?;
    } else {
        // A large payload is not copied: prefix and payload go out together
        // with `writev(2)`.
        write_all_vectored(out, &prefix, payload)?;
    }
    Ok(())
}

/// `payload` as a whole frame, prefix included, in one buffer.
///
/// # Errors
/// [`WireError::TooLargeToSend`] if `payload` is over [`MAX_FRAME`].
pub fn frame_bytes(payload: &[u8]) -> Result<Vec<u8>, WireError> {
    if payload.len() > MAX_FRAME {
        return Err(WireError::TooLargeToSend {
            len: payload.len(),
            max: MAX_FRAME,
        });
    }
    let len = u32::try_from(payload.len()).expect("MAX_FRAME fits in the 4-byte prefix");
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    Ok(frame)
}

/// Up to this size a frame is copied into one buffer for a single `write`;
/// above it, prefix and payload are written from where they are.
const COPY_LIMIT: usize = 16 * 1024;

/// Writes `head` then `tail`, looping over short writes and `EINTR`.
fn write_all_vectored(out: &mut impl Write, head: &[u8], tail: &[u8]) -> io::Result<()> {
    let total = head.len() + tail.len();
    let mut written = 0;
    while written < total {
        let result = if written < head.len() {
            out.write_vectored(&[io::IoSlice::new(&head[written..]), io::IoSlice::new(tail)])
        } else {
            out.write(&tail[written - head.len()..])
        };
        match result {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.flush()
}

/// Encodes `value` with postcard into a whole frame, prefix included, ready to
/// be written in one go. Python: `pickle.dumps` plus `Connection`'s framing.
///
/// # Errors
/// [`WireError::Encode`] if serde fails, [`WireError::TooLargeToSend`] if the
/// payload is over [`MAX_FRAME`].
pub fn encode_frame<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, WireError> {
    // Leave room for the prefix, encode after it, then fill it in: one buffer,
    // one write, no second copy of the payload.
    let mut frame = postcard::to_extend(value, vec![0u8; 4]).map_err(WireError::Encode)?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(WireError::TooLargeToSend {
            len,
            max: MAX_FRAME,
        });
    }
    let len = u32::try_from(len).expect("MAX_FRAME fits in the 4-byte prefix");
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

/// Reads a frame's 4-byte prefix: the payload length that follows.
///
/// # Errors
/// [`WireError::TooLarge`] if the length is over [`MAX_FRAME`]: the caller
/// must not allocate it.
pub fn parse_prefix(prefix: [u8; 4]) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    Ok(len)
}

/// Encodes `value` with postcard and writes it as one frame. Python:
/// `Connection.send(value)` (pickle, then the same framing).
///
/// # Errors
/// As [`encode_frame`], and [`WireError::Io`] if the write fails.
pub fn send_value<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> Result<(), WireError> {
    out.write_all(&encode_frame(value)?)?;
    Ok(())
}

/// Reads one frame's payload, byte by byte as it needs them: it never reads
/// past the frame's end, so it suits a stream that another reader takes up
/// after it (a [`FrameReader`] is faster, but keeps what it read ahead).
/// Python: `Connection.recv_bytes()`.
///
/// # Errors
/// [`WireError::Eof`] when the stream ends before the first byte of the
/// prefix; [`WireError::Truncated`] when it ends anywhere after that;
/// [`WireError::TooLarge`] for a prefix over [`MAX_FRAME`]; [`WireError::Io`].
pub fn read_frame(input: &mut impl Read) -> Result<Vec<u8>, WireError> {
    let mut prefix = [0u8; 4];
    let got = read_full(input, &mut prefix)?;
    if got == 0 {
        return Err(WireError::Eof);
    }
    if got < 4 {
        return Err(WireError::Truncated { expected: 4, got });
    }
    let len = parse_prefix(prefix)?;
    let mut payload = Vec::new();
    read_growing(input, &mut payload, len)?;
    Ok(payload)
}

/// How far ahead of the bytes that arrived a payload's buffer may grow.
const GROW_AHEAD: usize = 1 << 20;

/// Reads until `payload` holds `len` bytes, growing it at most 1 MiB ahead
/// of what arrived: a peer that announces 64 MiB and sends a byte costs
/// 1 MiB, not 64.
fn read_growing(src: &mut impl Read, payload: &mut Vec<u8>, len: usize) -> Result<(), WireError> {
    while payload.len() < len {
        let had = payload.len();
        let want = (len - had).min(GROW_AHEAD);
        payload.resize(had + want, 0);
        let got = read_full(src, &mut payload[had..])?;
        if got < want {
            return Err(WireError::Truncated {
                expected: 4 + len,
                got: 4 + had + got,
            });
        }
    }
    Ok(())
}

/// Reads one frame and decodes it as a `T`, never past its end (see
/// [`read_frame`]). Python: `Connection.recv()`.
///
/// # Errors
/// As [`read_frame`], and [`WireError::Decode`] if the payload is not a `T`.
pub fn recv_value<T: DeserializeOwned>(input: &mut impl Read) -> Result<T, WireError> {
    let payload = read_frame(input)?;
    postcard::from_bytes(&payload).map_err(WireError::Decode)
}

/// How much a [`FrameReader`] asks the kernel for at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Reads frames through a buffer: a small frame costs one `read(2)` instead
/// of two (prefix, then payload), and frames that arrived together are taken
/// from memory. A large frame's payload is read straight into its own
/// allocation. Python's `Connection` reads the prefix and the payload
/// separately; this is the one place the course's ends do better.
///
/// ```
/// use multiproc::wire::{FrameReader, encode_frame};
///
/// let mut bytes = Vec::new();
/// bytes.extend(encode_frame(&[1u8, 2, 3])?); // a fixed-size array: its bytes
/// bytes.extend(encode_frame(&[4u8])?);
/// let mut reader = FrameReader::default();
/// let mut stream = bytes.as_slice();
/// assert_eq!(reader.read_frame(&mut stream)?, [1, 2, 3]);
/// assert_eq!(reader.read_frame(&mut stream)?, [4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl FrameReader {
    /// An empty reader (its buffer is allocated on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// True if bytes are waiting in the buffer: a frame, or part of one.
    /// A `poll(2)` on the descriptor does not see them.
    pub fn has_buffered(&self) -> bool {
        self.end > self.start
    }

    /// How many bytes are waiting in the buffer.
    pub(crate) fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// The length the next frame announces, once its prefix is in the
    /// buffer: a reader with a lower limit than [`MAX_FRAME`] can refuse it
    /// before reading the rest.
    pub fn next_len(&self) -> Option<usize> {
        let waiting = &self.buf[self.start..self.end];
        (waiting.len() >= 4).then(|| u32::from_be_bytes(prefix_of(waiting)) as usize)
    }

    /// True if a whole frame is waiting in the buffer.
    pub fn has_frame(&self) -> bool {
        let waiting = &self.buf[self.start..self.end];
        waiting.len() >= 4 && waiting.len() - 4 >= u32::from_be_bytes(prefix_of(waiting)) as usize
    }

    /// Reads one frame's payload from `src`, through the buffer.
    ///
    /// # Errors
    /// As [`read_frame`].
    pub fn read_frame(&mut self, src: &mut impl Read) -> Result<Vec<u8>, WireError> {
        while self.end - self.start < 4 {
            if self.fill(src)? == 0 {
                let got = self.end - self.start;
                return Err(if got == 0 {
                    WireError::Eof
                } else {
                    WireError::Truncated { expected: 4, got }
                });
            }
        }
        let len = parse_prefix(prefix_of(&self.buf[self.start..]))?;
        self.start += 4;
        let waiting = self.end - self.start;
        if waiting >= len {
            let payload = self.buf[self.start..self.start + len].to_vec();
            self.start += len;
            return Ok(payload);
        }
        let mut payload = self.buf[self.start..self.end].to_vec();
        (self.start, self.end) = (0, 0);
        read_growing(src, &mut payload, len)?;
        Ok(payload)
    }

    /// Reads one frame and decodes it as a `T`.
    ///
    /// # Errors
    /// As [`read_frame`], and [`WireError::Decode`] if the payload is not a `T`.
    pub fn recv_value<T: DeserializeOwned>(&mut self, src: &mut impl Read) -> Result<T, WireError> {
        let payload = self.read_frame(src)?;
        postcard::from_bytes(&payload).map_err(WireError::Decode)
    }

    /// For a source that does not block (a non-blocking socket polled
    /// first): one `read(2)` of what is there into the buffer. The buffer
    /// grows as bytes arrive, never ahead of them, so a peer that announces
    /// 64 MiB and sends 1 byte costs 64 KiB, not 64 MiB. Returns how many
    /// bytes came: 0 is the end of the stream; a source with nothing to give
    /// returns its `WouldBlock` error. Then take frames with
    /// [`FrameReader::take_frame`].
    ///
    /// # Errors
    /// The source's I/O error (`EINTR` is retried).
    pub fn fill_available(&mut self, src: &mut impl Read) -> Result<usize, WireError> {
        self.fill(src)
    }

    /// A whole frame's payload, if one is in the buffer (after
    /// [`FrameReader::fill_available`]).
    ///
    /// # Errors
    /// [`WireError::TooLarge`] if the next frame announces more than
    /// [`MAX_FRAME`].
    pub fn take_frame(&mut self) -> Result<Option<Vec<u8>>, WireError> {
        let waiting = &self.buf[self.start..self.end];
        if waiting.len() < 4 {
            return Ok(None);
        }
        let len = parse_prefix(prefix_of(waiting))?;
        if waiting.len() - 4 < len {
            return Ok(None);
        }
        let payload = waiting[4..4 + len].to_vec();
        self.start += 4 + len;
        Ok(Some(payload))
    }

    /// One `read(2)` into the free end of the buffer; returns how many bytes
    /// came (0: end of stream). Compacts first, and doubles a full buffer
    /// (up to one maximal frame), so a large frame fits once it is all here.
    fn fill(&mut self, src: &mut impl Read) -> Result<usize, WireError> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        } else if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2)
                .min(MAX_FRAME + 4)
                .max(self.buf.len() + 1);
            self.buf.resize(grown, 0);
        }
        loop {
            match src.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(WireError::Io(e)),
            }
        }
    }
}

/// The first four bytes of `bytes` (which holds at least four).
fn prefix_of(bytes: &[u8]) -> [u8; 4] {
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

/// Fills `buf` unless the stream ends first; returns how many bytes arrived.
/// Retries `EINTR` (std's `read_exact` would hide how much was read).
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, WireError> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WireError::Io(e)),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests;
