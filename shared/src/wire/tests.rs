//! The frame format's own tests: round trips, EOF against truncation,
//! oversize prefixes, short reads and writes.

use std::io::{self, Read, Write};

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
fn a_frame_reader_takes_frames_that_came_together_from_memory() {
    let mut stream = Vec::new();
    for word in ["one", "", "three"] {
        send_value(&mut stream, word).unwrap();
    }
    write_frame(&mut stream, &vec![9u8; 200_000]).unwrap();
    // A source that hands out 7 bytes at a time, to cross every boundary.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    for source in [
        &mut stream.as_slice() as &mut dyn Read,
        &mut Trickle(&stream),
    ] {
        let mut reader = FrameReader::new();
        let mut source = source;
        let words: Vec<String> = (0..3)
            .map(|_| reader.recv_value(&mut source).unwrap())
            .collect();
        assert_eq!(words, ["one", "", "three"]);
        assert_eq!(reader.read_frame(&mut source).unwrap(), vec![9u8; 200_000]);
        assert!(matches!(
            reader.read_frame(&mut source),
            Err(WireError::Eof)
        ));
    }
    let mut whole = stream.as_slice();
    let mut reader = FrameReader::new();
    reader.read_frame(&mut whole).unwrap();
    assert!(
        reader.has_frame(),
        "the next small frames came in the same read"
    );
}

#[test]
fn a_frame_reader_tells_truncated_from_eof_and_refuses_oversize() {
    let mut buf = Vec::new();
    write_frame(&mut buf, b"hello").unwrap();
    for cut in 1..buf.len() {
        let err = FrameReader::new().read_frame(&mut &buf[..cut]).unwrap_err();
        assert!(
            matches!(err, WireError::Truncated { .. }),
            "cut at {cut}: {err}"
        );
    }
    let err = FrameReader::new()
        .read_frame(&mut &u32::MAX.to_be_bytes()[..])
        .unwrap_err();
    assert!(matches!(err, WireError::TooLarge { .. }));
}

#[test]
fn a_large_frame_survives_short_writes() {
    /// A writer that takes at most 1000 bytes per call, as a full pipe does.
    struct Stingy(Vec<u8>);
    impl Write for Stingy {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(1000);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut out = Stingy(Vec::new());
    write_frame(&mut out, &payload).unwrap();
    assert_eq!(read_frame(&mut out.0.as_slice()).unwrap(), payload);
}

#[test]
fn garbage_payload_is_a_decode_error() {
    let mut buf = Vec::new();
    write_frame(&mut buf, &[0xff; 3]).unwrap();
    let err = recv_value::<String>(&mut buf.as_slice()).unwrap_err();
    assert!(matches!(err, WireError::Decode(_)), "{err}");
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A source that hands out at most `step` bytes a read.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    proptest! {
        /// Any bytes at all: the readers never panic, and every answer is
        /// one of the documented ones.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..17) {
            let mut plain = bytes.as_slice();
            let mut reader = FrameReader::new();
            let mut trickle = Trickle { bytes: &bytes, step };
            for _ in 0..bytes.len() + 1 {
                match read_frame(&mut plain) {
                    Ok(payload) => prop_assert!(payload.len() <= MAX_FRAME),
                    Err(WireError::Eof) => break,
                    Err(WireError::Truncated { .. } | WireError::TooLarge { .. }) => break,
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
            for _ in 0..bytes.len() + 1 {
                match reader.read_frame(&mut trickle) {
                    Ok(payload) => prop_assert!(payload.len() <= MAX_FRAME),
                    Err(_) => break,
                }
            }
        }

        /// Whatever is sent, in whatever pieces it arrives, comes out the
        /// same, message by message.
        #[test]
        fn frames_round_trip(messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..5000), 0..8), step in 1usize..70_000) {
            let mut stream = Vec::new();
            for message in &messages {
                write_frame(&mut stream, message).unwrap();
            }
            let mut reader = FrameReader::new();
            let mut trickle = Trickle { bytes: &stream, step };
            for message in &messages {
                prop_assert_eq!(&reader.read_frame(&mut trickle).unwrap(), message);
            }
            prop_assert!(matches!(reader.read_frame(&mut trickle), Err(WireError::Eof)));
            let mut plain = stream.as_slice();
            for message in &messages {
                prop_assert_eq!(&read_frame(&mut plain).unwrap(), message);
            }
        }

        /// A prefix that promises up to 64 MiB and sends little: the reader
        /// answers Truncated, having grown its buffer only as far as bytes
        /// came (plus one step), never to the promised size.
        #[test]
        fn a_big_promise_is_truncated_not_allocated(len in 1usize..=MAX_FRAME, sent in 0usize..1000) {
            let sent = sent.min(len - 1);
            let mut bytes = u32::try_from(len).unwrap().to_be_bytes().to_vec();
            bytes.extend(std::iter::repeat_n(1u8, sent));
            let result = read_frame(&mut bytes.as_slice());
            let is_truncated = matches!(result, Err(WireError::Truncated { .. }));
            prop_assert!(is_truncated);
        }
    }
}
