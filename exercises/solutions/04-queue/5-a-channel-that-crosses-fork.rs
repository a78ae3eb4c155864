//! Solution to exercise 04.5: a `multiproc::Queue`, made before the fork,
//! is one queue for both processes.

use std::time::Duration;

use multiproc::{Process, Queue};

fn main() {
    let squares: Queue<u64> = Queue::new(0).expect("a queue");
    let mut child = Process::start(|| {
        for n in 1..=5 {
            squares.put(&(n * n)).expect("put");
        }
    })
    .expect("start the child");
    let got: Vec<u64> = (0..5)
        .map_while(|_| squares.get_timeout(Duration::from_secs(10)).ok())
        .collect();
    child.join().expect("join");
    println!("the parent got: {got:?}");
}
