//! Exercise 05.6: messages that keep their boundaries
//!
//! Lesson 05, section 5 ("Messages keep their boundaries; a raw pipe does
//! not").
//! The tutorial's Python:
//!
//!     for word in ("apple", "banana", "cherry"):
//!         conn.send_bytes(word.encode())   # three messages
//!     ...
//!     words = [conn.recv_bytes() for _ in range(3)]
//!
//! A child writes three words into a raw pipe; the parent reads to the end
//! and gets one run of bytes, `applebananacherry`: a raw pipe is a stream,
//! and nothing in it says where a word ended. Send three messages instead,
//! and receive three, until the child's end is closed.
//!
//! Check: `cargo xtask check 05.6`. Stuck: `cargo xtask hint 05.6`.

use std::io::{Read, Write};

use multiproc::Process;

fn main() {
    // TODO: a pipe that carries messages, not a stream of bytes.
    let (mut reader, mut writer) = std::io::pipe().expect("a pipe");
    let mut child = Process::start(|| {
        for word in ["apple", "banana", "cherry"] {
            writer.write_all(word.as_bytes()).expect("write");
        }
    })
    .expect("start the child");
    drop(writer);
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).expect("read");
    let words = vec![String::from_utf8_lossy(&bytes).into_owned()];
    child.join().expect("join");
    println!("messages: {words:?}");
}
