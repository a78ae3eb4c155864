//! Exercise 05.4: stop writing when the reader is gone
//!
//! Lesson 05, section 4 ("Writing when nobody can read: a BrokenPipe error,
//! not a dead process").
//! Python:
//!
//!     try:
//!         while True:
//!             conn.send(n); n += 1
//!     except BrokenPipeError:
//!         print("the reader is gone: stopping")
//!
//! The parent sends numbers every 10 ms to a child that reads three and
//! leaves. Once it is gone, `send` fails: today the program panics there and
//! ends with an error. A writer whose reader left is a normal event, not a
//! crash: stop sending, say so, and end the program normally (exit 0).
//!
//! Check: `cargo xtask check 05.4`. Stuck: `cargo xtask hint 05.4`.

use std::time::Duration;

use multiproc::{Pipe, Process};

fn main() {
    let (mut reader, mut writer) = Pipe::one_way().expect("a pipe");
    let mut child = Process::start(|| {
        writer.close();
        for _ in 0..3 {
            let n: u64 = reader.recv().expect("a number");
            println!("reader got {n}");
        }
        // Leaves: its read end closes with it.
    })
    .expect("start the reader");
    reader.close();

    // TODO: when the reader is gone, stop, and end the program normally.
    let mut sent = 0_u64;
    while sent < 1000 {
        writer.send(&sent).expect("send");
        sent += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    child.join().expect("join");
    println!("sent {sent} numbers; the reader took 3 and left");
}
