//! Exercise 05.3: an answer comes when it is ready, not within 100 ms
//!
//! Lesson 05, section 1 ("The tutorial's demo: recv waits until something
//! is sent").
//! The Python this code copies:
//!
//!     parent_end.send(n)
//!     if parent_end.poll(0.1):          # "it answers within 0.1 s"
//!         print(parent_end.recv())
//!     else:
//!         print("no answer")
//!
//! The child squares each number it gets, which takes it a few milliseconds
//! of CPU. The parent gives each answer 100 ms. One run on an idle machine
//! passes; in the check's stress runs the child gets a small share of a CPU
//! and answers late: then "no answer" is printed, and the late answer is
//! read as the answer to the next question. Make every answer arrive.
//!
//! Check: `cargo xtask check 05.3`. Stuck: `cargo xtask hint 05.3`.

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
            .poll(Some(Duration::from_millis(100)))
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
