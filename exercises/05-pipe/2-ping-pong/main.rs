//! Exercise 05.2: ping-pong over one pipe, both ways
//!
//! Lesson 05, section 2 ("A duplex pipe carries both ways; a one-way pipe
//! has typed ends").
//! The tutorial's Python:
//!
//!     parent_end, child_end = Pipe()        # duplex=True: both ways
//!     # child:  n = child_end.recv(); child_end.send(f"pong {n}")
//!     # parent: parent_end.send(n); print(parent_end.recv())
//!
//! The parent sends three pings and the child answers each with a pong. This
//! does not compile: in Rust a one-way pipe's ends have different types, a
//! `RecvEnd` has no `send` and a `SendEnd` no `recv`, so the mistake Python
//! reports at run time (`OSError: connection is read-only`) is caught here
//! by the compiler. Read its message, then make the pipe carry both ways.
//!
//! Check: `cargo xtask check 05.2`. Stuck: `cargo xtask hint 05.2`.

use multiproc::{Pipe, Process};

fn main() {
    // TODO: this pipe carries messages one way only.
    let (mut parent_end, mut child_end) = Pipe::one_way().expect("a pipe");
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
