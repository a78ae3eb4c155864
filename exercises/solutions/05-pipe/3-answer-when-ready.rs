//! Solution to exercise 05.3: `recv` waits for each answer, however long
//! the child takes.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Pipe, Process};

fn main() {
    let (mut parent_end, mut child_end) = Pipe::duplex().expect("a pipe");
    let mut child = Process::start(|| {
        for _ in 0..3 {
            let n: u64 = child_end.recv().expect("a question");
            work_for(Duration::from_millis(3));
            child_end.send(&(n * n)).expect("send the answer");
        }
    })
    .expect("start the child");

    for n in 1..=3u64 {
        parent_end.send(&n).expect("ask");
        let answer: u64 = parent_end.recv().expect("the answer");
        println!("question {n}: the answer is {answer}");
    }
    println!("the child's exitcode: {}", child.join().expect("join"));
}
