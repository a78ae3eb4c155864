//! Exercise 06.2: stop the lost updates inside the server
//!
//! Lesson 06, section 3 ("4 processes x 500 times d["k"] += 1: lost
//! updates, then two fixes").
//! The tutorial's Python:
//!
//!     def add_one(d, lock):
//!         for _ in range(50):
//!             d['k'] += 1                  # a get, then a set
//!
//! Two processes add 1 to the same key 50 times each: the key should end at
//! 100. Each increment is two requests to the manager, a get and a set, and
//! between them the other process can do its own get and set: one of the two
//! increments is lost. This time, no lock: have the server do the whole
//! increment in one request. (Exercise 06.1 uses a lock.)
//!
//! Check: `cargo xtask check 06.2`. Stuck: `cargo xtask hint 06.2`.

use std::time::Duration;

use exercises::work_for;
use multiproc::{DictProxy, Manager, Process};

const PROCESSES: usize = 2;
const INCREMENTS: i64 = 50;

fn add_one_many_times(d: &DictProxy<i64>) {
    for _ in 0..INCREMENTS {
        // TODO: one request that adds 1 in the server, instead of get and set.
        let k = d.get("k").expect("get").unwrap_or(0);
        work_for(Duration::from_micros(200)); // some work on the value
        d.set("k", &(k + 1)).expect("set");
    }
}

fn main() {
    let manager = Manager::start().expect("start a manager");
    let d: DictProxy<i64> = manager.dict().expect("a dict");
    d.set("k", &0).expect("set");

    let mut processes: Vec<Process> = (0..PROCESSES)
        .map(|_| Process::start(|| add_one_many_times(&d)).expect("start a process"))
        .collect();
    for process in &mut processes {
        process.join().expect("join");
    }

    let k = d.get("k").expect("get").unwrap_or(0);
    let expected = PROCESSES as i64 * INCREMENTS;
    println!("k = {k} after {PROCESSES} processes x {INCREMENTS} increments");
    println!("no update was lost: {}", k == expected);
}
