//! A wrong fix of exercise 05.1, kept to test the check's stress runs: the
//! parent keeps its write end and stops reading after 100 ms of silence.
//! On an idle machine the child is never that slow, and a single run
//! passes; when it gets a small share of a CPU, words go missing.

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

    let mut words: Vec<String> = Vec::new();
    // "Nothing for 100 ms: the child must be done."
    while recv_end
        .poll(Some(Duration::from_millis(100)))
        .expect("poll")
    {
        words.push(recv_end.recv().expect("recv"));
    }
    println!("received {} words until end of stream", words.len());
    println!("the child's exitcode: {}", child.join().expect("join"));
}
