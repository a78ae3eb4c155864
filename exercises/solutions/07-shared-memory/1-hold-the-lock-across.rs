//! Solution to exercise 07.1: the guard of `get_lock` holds the Value's lock
//! from the read to the write, so each increment is one step.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Process, Value};

const PROCESSES: usize = 2;
const INCREMENTS: u64 = 1000;

fn add_one_many_times(count: &Value<u64>) {
    for _ in 0..INCREMENTS {
        // One hold of the lock from the read to the write.
        let mut n = count.get_lock().expect("lock");
        work_for(Duration::from_micros(20));
        *n += 1;
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
