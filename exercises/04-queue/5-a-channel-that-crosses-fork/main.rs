//! Exercise 04.5: a channel that crosses a fork
//!
//! Lesson 04, sections 1 and 2 ("A global variable does not carry data
//! between processes"; "A thread channel does not cross a fork").
//! The tutorial's Python:
//!
//!     q = Queue()                          # not queue.Queue, not a list
//!     p = Process(target=squares, args=(q,)); p.start()
//!     print([q.get() for _ in range(5)])
//!
//! A child computes five squares and sends them on a `std::sync::mpsc`
//! channel made before the fork. The parent waits a second and gets
//! nothing: the child sent into its own copy of the channel, in its own
//! memory. Carry the squares from the child to the parent.
//!
//! Check: `cargo xtask check 04.5`. Stuck: `cargo xtask hint 04.5`.

use std::sync::mpsc;
use std::time::Duration;

use multiproc::Process;

fn main() {
    // TODO: a channel between processes.
    let (send, receive) = mpsc::channel::<u64>();
    let mut child = Process::start(|| {
        for n in 1..=5 {
            send.send(n * n).expect("send");
        }
    })
    .expect("start the child");
    let got: Vec<u64> = (0..5)
        .map_while(|_| receive.recv_timeout(Duration::from_secs(1)).ok())
        .collect();
    child.join().expect("join");
    println!("the parent got: {got:?}");
}
