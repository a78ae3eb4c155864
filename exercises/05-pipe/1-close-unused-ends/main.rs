//! Exercise 05.1: close the ends you do not use, so the reader sees EOF
//!
//! Lesson 05, section 3 ("End of stream: recv reports EOF once every write
//! end is closed").
//! The tutorial's Python:
//!
//!     recv_end, send_end = Pipe(duplex=False)
//!     Process(target=send_words, args=(send_end,)).start()
//!     send_end.close()                  # the parent's copy
//!     while True:
//!         try: words.append(recv_end.recv())
//!         except EOFError: break
//!
//! The child sends a few words (how many changes from run to run) and
//! exits. The parent reads until end of stream, which comes when every
//! copy of the write end is closed. One copy is still open, so the parent
//! waits forever.
//!
//! Check: `cargo xtask check 05.1`. Stuck: `cargo xtask hint 05.1`.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Pipe, Process, WireError};

fn main() {
    let (mut recv_end, mut send_end) = Pipe::one_way().expect("a pipe");
    let mut child = Process::start(|| {
        // 2 to 5 words, a number that changes from run to run: only end of
        // stream tells the reader it has them all.
        let count = std::process::id() % 4 + 2;
        println!("child: sending {count} words");
        for n in 1..=count {
            work_for(Duration::from_millis(3));
            send_end.send(&format!("word {n}")).expect("send a word");
        }
    })
    .expect("start the child");

    // TODO: the loop below ends only when no process holds a write end.

    let mut words: Vec<String> = Vec::new();
    loop {
        match recv_end.recv() {
            Ok(word) => words.push(word),
            Err(WireError::Eof) => break,
            Err(other) => panic!("recv failed: {other}"),
        }
    }
    println!("received {} words until end of stream", words.len());
    println!("the child's exitcode: {}", child.join().expect("join"));
}
