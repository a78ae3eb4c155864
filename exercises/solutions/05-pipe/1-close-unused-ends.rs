//! Solution to exercise 05.1: the parent drops its copy of the write end
//! after starting the child, so the child's exit closes the last copy.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Pipe, Process, WireError};

fn main() {
    let (mut recv_end, mut send_end) = Pipe::one_way().expect("a pipe");
    let mut child = Process::start(|| {
        for word in ["one", "two", "three"] {
            work_for(Duration::from_millis(3));
            send_end.send(word).expect("send a word");
        }
    })
    .expect("start the child");

    drop(send_end);

    let mut words: Vec<String> = Vec::new();
    loop {
        match recv_end.recv() {
            Ok(word) => words.push(word),
            Err(WireError::Eof) => break,
            Err(other) => panic!("recv failed: {other}"),
        }
    }
    println!("received until end of stream: {words:?}");
    println!("the child's exitcode: {}", child.join().expect("join"));
}
