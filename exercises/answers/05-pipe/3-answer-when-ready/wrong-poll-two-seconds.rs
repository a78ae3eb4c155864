//! A learner's answer, kept to test the grader: a poll of 2 s. Wrong: a
//! stopped child answers later than any poll.

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
        // TODO: this gives up after 100 ms.
        if parent_end
            .poll(Some(Duration::from_millis(2000)))
            .expect("poll")
        {
            let answer: u64 = parent_end.recv().expect("the answer");
            println!("question {n}: the answer is {answer}");
        } else {
            println!("question {n}: no answer");
        }
    }
    println!("the child's exitcode: {}", child.join().expect("join"));
}
