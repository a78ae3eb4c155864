//! Pipe: message boundaries, the ends and their errors, end of stream, and
//! what a reader says about bytes that are not frames.

use std::io::Write;
use std::time::{Duration, Instant};

use multiproc::{Pipe, Process, WireError};

pub fn message_boundaries_and_ends() {
    let (mut a, mut b) = Pipe::duplex().unwrap();
    let mut child = Process::start(|| {
        let ping: String = b.recv().unwrap();
        b.send(&format!("{ping} pong")).unwrap();
        b.send_bytes(b"").unwrap();
        for n in 0..3u32 {
            b.send(&n).unwrap();
        }
        b.send_bytes(&vec![0xabu8; 16 << 20]).unwrap();
    })
    .unwrap();
    b.close();
    a.send("ping").unwrap();
    assert_eq!(a.recv::<String>().unwrap(), "ping pong");
    assert_eq!(
        a.recv_bytes().unwrap(),
        b"",
        "an empty message is a message"
    );
    let three: Vec<u32> = (0..3).map(|_| a.recv().unwrap()).collect();
    assert_eq!(three, [0, 1, 2], "three sends, three messages");
    let big = a.recv_bytes().unwrap();
    assert!(
        big.len() == 16 << 20 && big.iter().all(|&x| x == 0xab),
        "16 MiB intact"
    );
    assert_eq!(child.join().unwrap(), 0);
    assert!(
        a.poll(Some(Duration::from_millis(100))).unwrap(),
        "EOF counts as ready"
    );
    assert!(matches!(a.recv::<u32>(), Err(WireError::Eof)));
    assert_eq!(
        a.recv::<u32>().unwrap_err().to_string(),
        "end of stream: the other end was closed"
    );
    assert_eq!(
        a.send(&1u32).unwrap_err().to_string(),
        "broken pipe: the receiving end is closed in every process, so nobody can read this"
    );
    a.close();
    assert_eq!(
        a.recv::<u32>().unwrap_err().to_string(),
        "this end was closed with close()"
    );
}

pub fn eof_is_told_from_waiting() {
    let (mut recv_end, mut send_end) = Pipe::one_way().unwrap();
    send_end.send(&1u32).unwrap();
    assert!(
        recv_end.poll(Some(Duration::ZERO)).unwrap(),
        "a message is waiting"
    );
    assert_eq!(recv_end.recv::<u32>().unwrap(), 1);
    let started = Instant::now();
    assert!(!recv_end.poll(Some(Duration::from_millis(200))).unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(190),
        "poll waited its 200 ms"
    );
    send_end.close();
    assert!(matches!(recv_end.recv::<u32>(), Err(WireError::Eof)));
    let (mut recv_end, mut send_end) = Pipe::one_way().unwrap();
    recv_end.close();
    assert!(matches!(send_end.send(&1u32), Err(WireError::BrokenPipe)));
}

pub fn bad_frames_give_clear_errors() {
    // Bytes written straight into the pipe's file descriptor, bypassing the
    // framing, as a buggy or hostile writer would.
    let cases: [(&[u8], &str); 4] = [
        (
            &[0, 0, 0, 10, 1, 2],
            "truncated frame: the other end closed after 6 of 14 bytes",
        ),
        (
            &[0xff, 0xff, 0xff, 0xff],
            "frame length 4294967295 is over the limit of 67108864 bytes: refused before \
             allocating (a corrupt stream, or a second writer on the same end?)",
        ),
        (
            &[0, 0, 0, 2, 0xff, 0xff],
            "could not decode the message (Hit the end of buffer, expected more data): the \
             sender used another type",
        ),
        (
            &[0, 0],
            "truncated frame: the other end closed after 2 of 4 bytes",
        ),
    ];
    for (bytes, expected) in cases {
        let (mut recv_end, send_end) = Pipe::one_way().unwrap();
        let mut raw = send_end.into_file().expect("open");
        raw.write_all(bytes).unwrap();
        drop(raw);
        assert_eq!(recv_end.recv::<String>().unwrap_err().to_string(), expected);
    }
}

/// A message over the limit is refused on the sending side,
/// with a message about sending (not about a corrupt stream).
pub fn an_oversize_send_says_so() {
    let (_recv_end, mut send_end) = Pipe::one_way().unwrap();
    let refused = send_end
        .send_bytes(&vec![0u8; multiproc::wire::MAX_FRAME + 1])
        .unwrap_err();
    assert!(
        matches!(refused, WireError::TooLargeToSend { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was sent"),
        "{refused}"
    );
}

/// A one-way pipe keeps the kernel's 64 KiB while its messages are small
/// (lesson 05 shows what that size does), and grows to 1 MiB before the
/// first large one, which then arrives whole.
pub fn a_large_message_grows_a_one_way_pipe() {
    let pipe_size = |file: &std::fs::File| {
        nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_GETPIPE_SZ).expect("F_GETPIPE_SZ")
    };
    let (mut small_reader, mut small) = Pipe::one_way().unwrap();
    small.send_bytes(&[1u8; 10 << 10]).unwrap();
    assert_eq!(small_reader.recv_bytes().unwrap().len(), 10 << 10);
    assert_eq!(
        pipe_size(&small.into_file().unwrap()),
        64 << 10,
        "small messages: 64 KiB"
    );
    let (mut reader, mut writer) = Pipe::one_way().unwrap();
    let mut child = Process::start(|| {
        writer.send(&vec![7u8; 3 << 20]).unwrap();
        writer.send(&vec![8u8; 1 << 20]).unwrap();
        let size = pipe_size(&writer.into_file().unwrap());
        assert_eq!(size, 1 << 20, "after a large message: 1 MiB");
    })
    .unwrap();
    assert_eq!(reader.recv::<Vec<u8>>().unwrap(), vec![7u8; 3 << 20]);
    assert_eq!(reader.recv::<Vec<u8>>().unwrap(), vec![8u8; 1 << 20]);
    assert_eq!(child.join().unwrap(), 0, "the writer saw its pipe grown");
}
