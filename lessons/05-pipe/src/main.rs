//! Lesson 05: Pipe, a channel with exactly two ends.
//!
//! The tutorial's demo: a producer sends "a" half a second in; the consumer,
//! blocked in `recv`, prints it. Around it: a duplex pipe both ways, the typed
//! one-way pipe, how end-of-stream works (and how forgetting one `close` keeps
//! a reader waiting forever), what writing to a closed pipe does, message
//! boundaries, why each end must have one writer, and the tutorial's claim
//! that a Pipe is faster than a Queue, measured.

use std::fs::File;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use course::{ratio, section, start_lesson, timed, title};
use multiproc::WireError;
use multiproc::{Pipe, Process, Queue};

fn main() {
    start_lesson(env!("CARGO_PKG_NAME"));
    title("Lesson 05: Pipe");
    println!("This process: pid={}", std::process::id());

    the_tutorials_demo();
    both_ways_and_one_way();
    end_of_stream();
    broken_pipe();
    message_boundaries();
    one_writer_per_end();
    pipe_against_queue();
}

// ---------------------------------------------------------------------------
fn the_tutorials_demo() {
    section(
        "The tutorial's demo: recv waits until something is sent",
        "recv_end, send_end = Pipe(duplex=False); a producer sends 'a' after 0.5 s; recv() waits",
    );
    let (mut recv_end, mut send_end) = Pipe::one_way().expect("pipe");
    // Every child in this lesson is a daemon (Python: `daemon=True`): if the
    // lesson is killed, its children die with it instead of waiting forever on
    // a pipe whose other end they hold themselves.
    let mut producer = Process::start_daemon(|| {
        recv_end.close(); // This process only sends.
        std::thread::sleep(Duration::from_millis(500));
        send_end.send("a").expect("send");
        println!("producer send: a");
    })
    .expect("fork");
    let mut consumer = Process::start_daemon(|| {
        send_end.close(); // This process only receives.
        let started = Instant::now();
        let got: String = recv_end.recv().expect("recv");
        let waited = started.elapsed();
        println!("consumer get: {got} (recv waited {waited:.1?})");
        // The producer sleeps 500ms: a recv that returned much sooner did
        // not wait for it.
        println!(
            "consumer: recv waited at least 400ms: {}",
            waited >= Duration::from_millis(400)
        );
    })
    .expect("fork");
    // The parent uses neither end: it closes both.
    recv_end.close();
    send_end.close();
    producer.join().expect("waitpid");
    consumer.join().expect("waitpid");
    println!("So recv blocked until the producer sent, 500ms after it started.");
}

// ---------------------------------------------------------------------------
fn both_ways_and_one_way() {
    section(
        "A duplex pipe carries both ways; a one-way pipe has typed ends",
        "a, b = Pipe() (duplex); r, w = Pipe(duplex=False)",
    );
    let (mut here, mut there) = Pipe::duplex().expect("pipe");
    let mut child = Process::start_daemon(|| {
        here.close();
        for _ in 0..3 {
            let n: u32 = there.recv().expect("recv");
            there.send(&(n + 1)).expect("send");
        }
    })
    .expect("fork");
    there.close();
    let mut n = 0u32;
    for _ in 0..3 {
        here.send(&n).expect("send");
        let back: u32 = here.recv().expect("recv");
        println!("parent sent {n}, child sent back {back}");
        n = back + 1;
    }
    child.join().expect("waitpid");
    println!("A one-way pipe gives a RecvEnd and a SendEnd. Sending on the reader");
    println!("does not compile (Python raises OSError at run time):");
    println!(
        "  error[E0599]: no method named `send` found for struct `RecvEnd` in the current scope"
    );
    println!(
        "  (a compile_fail doctest on RecvEnd pins this error: cargo test --doc -p multiproc)"
    );
}

// ---------------------------------------------------------------------------
fn end_of_stream() {
    section(
        "End of stream: recv reports EOF once every write end is closed",
        "conn.recv() raises EOFError when the other end is closed everywhere",
    );
    for parent_closes in [true, false] {
        let (mut reader, mut writer) = Pipe::one_way().expect("pipe");
        let mut child = Process::start_daemon(|| {
            reader.close();
            writer.send("one").expect("send");
            writer.send("two").expect("send");
        })
        .expect("fork");
        if parent_closes {
            writer.close();
            println!("the parent closed its copy of the write end:");
        } else {
            println!("the parent forgot to close its copy of the write end:");
        }
        child.join().expect("waitpid");
        for _ in 0..2 {
            println!("  recv -> {:?}", reader.recv::<String>().expect("recv"));
        }
        let waited = Instant::now();
        match reader.poll(Some(Duration::from_millis(500))).expect("poll") {
            true => println!("  poll -> ready: {}", describe(reader.recv::<String>())),
            false => {
                println!(
                    "  poll(500ms) -> nothing, after {:.1?}: no message, and no EOF either,",
                    waited.elapsed()
                );
                println!("  because a write end is still open, in this very process. A recv here");
                println!("  would wait forever. Closing it:");
                writer.close();
                println!("  recv -> {}", describe(reader.recv::<String>()));
            }
        }
    }
}

fn describe<T: std::fmt::Debug>(result: Result<T, WireError>) -> String {
    match result {
        Ok(value) => format!("{value:?}"),
        Err(WireError::Eof) => "Err(Eof): every write end is closed".to_string(),
        Err(e) => format!("Err({e})"),
    }
}

// ---------------------------------------------------------------------------
fn broken_pipe() {
    section(
        "Writing when nobody can read: a BrokenPipe error, not a dead process",
        "conn.send() raises BrokenPipeError",
    );
    let (mut reader, mut writer) = Pipe::one_way().expect("pipe");
    let mut child = Process::start_daemon(|| {
        writer.close();
        // Exits without reading: its read end closes with it.
        drop(reader.poll(Some(Duration::ZERO)));
    })
    .expect("fork");
    reader.close();
    child.join().expect("waitpid");
    let outcome = writer.send("anyone there?");
    println!("send -> {}", describe(outcome));
    println!("this process is still alive: pid={}", std::process::id());
    println!("A C program would have been killed by SIGPIPE. Rust ignores SIGPIPE at");
    println!("start-up, so the write fails with EPIPE instead, and the error says so.");
}

// ---------------------------------------------------------------------------
fn message_boundaries() {
    section(
        "Messages keep their boundaries; a raw pipe does not",
        "send_bytes(b'') is a message; three sends are three recvs",
    );
    // A raw pipe is a stream of bytes: three writes can come out as one read.
    let (mut raw_reader, mut raw_writer) = std::io::pipe().expect("pipe");
    for part in ["a", "b", "c"] {
        raw_writer.write_all(part.as_bytes()).expect("write");
    }
    let mut buffer = [0u8; 64];
    // One read(2), with room for far more than was written.
    let got = raw_reader.read(&mut buffer).expect("read");
    println!(
        "raw pipe: wrote \"a\", \"b\", \"c\"; one read(2) returned {got} bytes: {:?}",
        String::from_utf8_lossy(&buffer[..got])
    );

    let (mut here, mut there) = Pipe::duplex().expect("pipe");
    let mut child = Process::start_daemon(|| {
        here.close();
        // Echo every message back, until end of stream.
        while let Ok(bytes) = there.recv_bytes() {
            there.send_bytes(&bytes).expect("send");
        }
    })
    .expect("fork");
    there.close();
    here.send_bytes(b"").expect("send");
    println!(
        "framed: an empty message comes back as {:?}",
        here.recv_bytes().expect("recv")
    );
    for part in ["a", "b", "c"] {
        here.send_bytes(part.as_bytes()).expect("send");
    }
    let back: Vec<String> = (0..3)
        .map(|_| String::from_utf8(here.recv_bytes().expect("recv")).expect("utf-8"))
        .collect();
    println!("framed: three sends come back as three messages: {back:?}");
    let big: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let ((), took) = timed(|| {
        here.send_bytes(&big).expect("send");
    });
    let echoed = here.recv_bytes().expect("recv");
    println!(
        "framed: a 16 MiB message went out (in {took:.1?}) and came back intact: {}",
        echoed == big
    );
    here.close();
    child.join().expect("waitpid");
    println!("Each message is a 4-byte length and its bytes, so the reader knows where");
    println!("one ends. Python's Connection frames its messages the same way.");
}

// ---------------------------------------------------------------------------
fn one_writer_per_end() {
    section(
        "One writer per end: two writers interleave their bytes",
        "\"a Pipe connects only two endpoints\"; the docs: data may become corrupted",
    );
    let (mut reader, writer) = Pipe::one_way().expect("pipe");
    let raw = writer.into_file().expect("the write end is open");
    // Writer A: a 100 000-byte message of 'A's. Writer B: a 10-byte message of
    // 'B's. A big write is split whenever the pipe fills; here the split is
    // forced to fall halfway through A's message, so the run is repeatable.
    let message_a = frame(&[b'A'; 100_000]);
    let (mut writer_a, mut writer_b) = write_b_inside_a(raw, &message_a, &frame(&[b'B'; 10]));
    let first = reader.recv_bytes().expect("recv");
    let bs = first.iter().filter(|&&b| b == b'B').count();
    let neither = first.iter().filter(|&&b| b != b'A' && b != b'B').count();
    println!("(A's message was split halfway on purpose, and B's written in the gap.)");
    println!(
        "first message read: {} bytes; {bs} are 'B' (B's message) and {neither} are B's length prefix",
        first.len()
    );
    println!(
        "  it should have been 100000 bytes of 'A': intact: {}",
        first.iter().all(|&b| b == b'A')
    );
    course::print_wrapped(
        "second message read: ",
        &describe(reader.recv_bytes().map(|m| m.len())),
    );
    writer_a.join().expect("waitpid");
    writer_b.join().expect("waitpid");
    println!("B's message landed inside A's: the reader took 100000 bytes starting at A's");
    println!("prefix, so it got half of A, all of B, and part of A's second half; what was");
    println!("left made no sense as a message. Writes of up to 4096 bytes (PIPE_BUF) are");
    println!("atomic, larger ones are not. Give each end one writer, or use a Queue, whose");
    println!("write lock keeps every message whole.");
}

/// Forks writer A and writer B on the same write end `raw`: A writes the
/// first half of `message_a`, B then writes all of `message_b`, and A then
/// writes the rest, each waiting for the other over a pipe of its own. The
/// choreography a real pipe falls into by chance when it fills mid-write,
/// made to happen every run. Returns (A, B); this process keeps no end.
fn write_b_inside_a(mut raw: File, message_a: &[u8], message_b: &[u8]) -> (Process, Process) {
    let (first_half, second_half) = message_a.split_at(message_a.len() / 2 + 2);
    let (mut go_b, mut b_done) = (
        std::io::pipe().expect("pipe"),
        std::io::pipe().expect("pipe"),
    );
    let writer_b = Process::start_daemon(|| {
        let mut byte = [0u8];
        go_b.0.read_exact(&mut byte).expect("wait for A");
        raw.write_all(message_b).expect("write");
        b_done.1.write_all(b"!").expect("signal");
    })
    .expect("fork");
    let writer_a = Process::start_daemon(|| {
        let mut byte = [0u8];
        raw.write_all(first_half).expect("write");
        go_b.1.write_all(b"!").expect("signal");
        b_done.0.read_exact(&mut byte).expect("wait for B");
        raw.write_all(second_half).expect("write");
    })
    .expect("fork");
    (writer_a, writer_b)
}

/// A message as the wire carries it: a 4-byte big-endian length, then bytes.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

// ---------------------------------------------------------------------------
const MESSAGES: u32 = 20_000;

fn pipe_against_queue() {
    section(
        "The tutorial's \"Pipe is faster than Queue\", measured: 20000 small messages each",
        "the tutorial: Pipe only connects two endpoints, and is faster than Queue",
    );
    let (mut reader, mut writer) = Pipe::one_way().expect("pipe");
    let (sum, through_pipe) = timed(|| {
        let mut child = Process::start_daemon(|| {
            reader.close();
            for n in 0..MESSAGES {
                writer.send(&n).expect("send");
            }
        })
        .expect("fork");
        writer.close();
        let sum: u64 = (0..MESSAGES)
            .map(|_| u64::from(reader.recv::<u32>().expect("recv")))
            .sum();
        child.join().expect("waitpid");
        sum
    });
    let queue: Queue<u32> = Queue::new(0).expect("queue");
    let (queue_sum, through_queue) = timed(|| {
        let mut child = Process::start_daemon(|| {
            for n in 0..MESSAGES {
                queue.put(&n).expect("put");
            }
        })
        .expect("fork");
        let sum: u64 = (0..MESSAGES)
            .map(|_| u64::from(queue.get().expect("get")))
            .sum();
        child.join().expect("waitpid");
        sum
    });
    println!(
        "both delivered every message: {}",
        sum == queue_sum && sum == u64::from(MESSAGES) * u64::from(MESSAGES - 1) / 2
    );
    let rate = |took: Duration| f64::from(MESSAGES) / took.as_secs_f64();
    println!(
        "Pipe:  {through_pipe:.1?} ({:.0} messages/s)",
        rate(through_pipe)
    );
    println!(
        "Queue: {through_queue:.1?} ({:.0} messages/s)",
        rate(through_queue)
    );
    let queue_over_pipe = ratio(through_queue, through_pipe);
    let faster = if queue_over_pipe > 1.0 {
        "Pipe"
    } else {
        "Queue"
    };
    println!(
        "the Queue took {queue_over_pipe:.2}x the Pipe's time: the {faster} was faster in this run"
    );
    println!("What to look for: how close the two are. In CPython the Pipe wins (its Queue");
    println!("adds a feeder thread and a lock to a pipe). Here the Queue is a ring in shared");
    println!("memory, with no system call unless a side must sleep, and the Pipe makes two");
    println!("per message: either may win a run. `cargo xtask bench` measures both many");
    println!("times (figures pipe-msgs and queue, in release mode).");
    println!("Take a Pipe for two processes; a Queue when there are more, or a bound.");
}
