//! Solution to exercise 06.2: the server adds 1 while it handles one
//! request, so no other request can come between a read and a write.

use std::time::Duration;

use exercises::work_for;
use multiproc::{DictProxy, Manager, Process};

const PROCESSES: usize = 2;
const INCREMENTS: i64 = 50;

fn add_one_many_times(d: &DictProxy<i64>) {
    for _ in 0..INCREMENTS {
        work_for(Duration::from_micros(200)); // some work on the value
        d.add("k", 1).expect("add");
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
