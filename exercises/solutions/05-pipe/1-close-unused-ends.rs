//! Solution to exercise 05.1: the parent drops its copy of the write end
//! after starting the child, so the child's exit closes the last copy.

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

    drop(send_end);

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
