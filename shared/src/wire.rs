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
#[derive(Debug)]
pub enum WireError {
    /// The peer closed its end at a frame boundary: an orderly end of stream.
    /// (Python's `Connection.recv` raises `EOFError`.)
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
    /// The payload was not a valid postcard encoding of the expected type.
    Decode(postcard::Error),
    /// The payload could not be encoded.
    Encode(postcard::Error),
    /// The other end was closed everywhere: nobody can read what is sent.
    /// (Rust ignores `SIGPIPE`, so this is an error, not a killed process.)
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
pub fn write_frame(out: &mut impl Write, payload: &[u8]) -> Result<(), WireError> {
    if payload.len() > MAX_FRAME {
        return Err(WireError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME,
        });
    }
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    out.write_all(&frame)?;
    Ok(())
}

/// Encodes `value` with postcard and writes it as one frame. Python:
/// `Connection.send(value)` (pickle, then the same framing).
pub fn send_value<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> Result<(), WireError> {
    // Leave room for the prefix, encode after it, then fill it in: one buffer,
    // one write, no second copy of the payload.
    let mut frame = postcard::to_extend(value, vec![0u8; 4]).map_err(WireError::Encode)?;
    let len = frame.len() - 4;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    frame[..4].copy_from_slice(&(len as u32).to_be_bytes());
    out.write_all(&frame)?;
    Ok(())
}

/// Reads one frame's payload. `Eof` when the stream ends before the first byte
/// of the prefix; `Truncated` when it ends anywhere after that. Python:
/// `Connection.recv_bytes()`.
pub fn read_frame(input: &mut impl Read) -> Result<Vec<u8>, WireError> {
    let mut prefix = [0u8; 4];
    let got = read_full(input, &mut prefix)?;
    if got == 0 {
        return Err(WireError::Eof);
    }
    if got < 4 {
        return Err(WireError::Truncated { expected: 4, got });
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge {
            len,
            max: MAX_FRAME,
        });
    }
    let mut payload = vec![0u8; len];
    let got = read_full(input, &mut payload)?;
    if got < len {
        return Err(WireError::Truncated {
            expected: 4 + len,
            got: 4 + got,
        });
    }
    Ok(payload)
}

/// Reads one frame and decodes it as a `T`. Python: `Connection.recv()`.
pub fn recv_value<T: DeserializeOwned>(input: &mut impl Read) -> Result<T, WireError> {
    let payload = read_frame(input)?;
    postcard::from_bytes(&payload).map_err(WireError::Decode)
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
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips() {
        let mut buf = Vec::new();
        send_value(&mut buf, &("fib", 34u32)).unwrap();
        assert_eq!(&buf[..4], &(buf.len() as u32 - 4).to_be_bytes());
        let back: (String, u32) = recv_value(&mut buf.as_slice()).unwrap();
        assert_eq!(back, ("fib".to_string(), 34));
    }

    #[test]
    fn an_empty_payload_is_a_frame() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"").unwrap();
        let mut input = buf.as_slice();
        assert_eq!(read_frame(&mut input).unwrap(), b"");
        assert!(matches!(read_frame(&mut input), Err(WireError::Eof)));
    }

    #[test]
    fn eof_inside_a_frame_is_truncated_not_eof() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello").unwrap();
        for cut in 1..buf.len() {
            let err = read_frame(&mut &buf[..cut]).unwrap_err();
            assert!(
                matches!(err, WireError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn an_oversize_prefix_is_refused_before_allocating() {
        let prefix = u32::MAX.to_be_bytes();
        let err = read_frame(&mut prefix.as_slice()).unwrap_err();
        assert!(matches!(err, WireError::TooLarge { len, .. } if len == u32::MAX as usize));
    }

    #[test]
    fn garbage_payload_is_a_decode_error() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &[0xff; 3]).unwrap();
        let err = recv_value::<String>(&mut buf.as_slice()).unwrap_err();
        assert!(matches!(err, WireError::Decode(_)), "{err}");
    }
}
