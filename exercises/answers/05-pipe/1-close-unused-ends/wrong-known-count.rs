//! A learner's answer, kept to test the grader: the ends are closed, but
//! the parent reads the three words it expects instead of reading to end
//! of stream. Wrong: the child sends 2 to 5, a different number each run.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Pipe, Process};

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

    // "The child sends three words": read three, not to end of stream.
    let words: Vec<String> = (0..3).map(|_| recv_end.recv().expect("recv")).collect();
    println!("received {} words until end of stream", words.len());
    println!("the child's exitcode: {}", child.join().expect("join"));
}
