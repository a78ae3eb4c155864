//! Exercise 07.1: hold the Value's lock across the read and the write
//!
//! Lesson 07, sections 2 and 3 ("4 processes x 500 times count = count + 1
//! on a Value: lost updates"; "Three exact fixes, and what one increment
//! costs in each").
//! Python:
//!
//!     def add_one(v):
//!         for _ in range(1000):
//!             v.value += 1                 # a locked read, then a locked write
//!
//! Two processes add 1 to one `Value` 1000 times each: it should end at
//! 2000. `get` and `set` each take the Value's lock, but nothing holds it
//! from the read to the write: between them the other process can read the
//! same number, and one of the two increments is lost. Make each increment
//! one step under the lock.
//!
//! Check: `cargo xtask check 07.1`. Stuck: `cargo xtask hint 07.1`.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Process, Value};

const PROCESSES: usize = 2;
const INCREMENTS: u64 = 1000;

fn add_one_many_times(count: &Value<u64>) {
    for _ in 0..INCREMENTS {
        // TODO: no other process may change the count between get and set.
        let n = count.get().expect("get");
        work_for(Duration::from_micros(20)); // some work on the number
        count.set(n + 1).expect("set");
    }
}

fn main() {
    let count = Value::new(0_u64).expect("a Value");
    let mut processes: Vec<Process> = (0..PROCESSES)
        .map(|_| Process::start(|| add_one_many_times(&count)).expect("start a process"))
        .collect();
    for process in &mut processes {
        process.join().expect("join");
    }
    let n = count.get().expect("get");
    println!("count = {n} after {PROCESSES} processes x {INCREMENTS} increments");
    println!("no update was lost: {}", n == PROCESSES as u64 * INCREMENTS);
}
