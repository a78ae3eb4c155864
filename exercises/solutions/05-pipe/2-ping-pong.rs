//! Solution to exercise 05.2: a duplex pipe, whose two `Connection`s can
//! each send and receive.

use multiproc::{Pipe, Process};

fn main() {
    let (mut parent_end, mut child_end) = Pipe::duplex().expect("a pipe");
    let mut child = Process::start(|| {
        for _ in 0..3 {
            let n: u32 = child_end.recv().expect("a ping");
            child_end.send(&format!("pong {n}")).expect("send a pong");
        }
    })
    .expect("start the child");

    for n in 1..=3u32 {
        parent_end.send(&n).expect("send a ping");
        let reply: String = parent_end.recv().expect("a pong");
        println!("ping {n} -> {reply}");
    }
    println!("the child's exitcode: {}", child.join().expect("join"));
}
