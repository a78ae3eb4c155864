//! Solution to exercise 06.1: a lock that lives in the manager makes
//! get-then-set one step for every other process.

use std::time::Duration;

use exercises::work_for;
use multiproc::{DictProxy, LockProxy, Manager, Process};

const PROCESSES: usize = 2;
const INCREMENTS: i64 = 50;

fn add_one_many_times(d: &DictProxy<i64>, lock: &LockProxy) {
    for _ in 0..INCREMENTS {
        lock.acquire(None).expect("acquire");
        let k = d.get("k").expect("get").unwrap_or(0);
        work_for(Duration::from_micros(200)); // some work on the value
        d.set("k", &(k + 1)).expect("set");
        lock.release().expect("release");
    }
}

fn main() {
    let manager = Manager::start().expect("start a manager");
    let d: DictProxy<i64> = manager.dict().expect("a dict");
    let lock = manager.lock().expect("a lock");
    d.set("k", &0).expect("set");

    let mut processes: Vec<Process> = (0..PROCESSES)
        .map(|_| Process::start(|| add_one_many_times(&d, &lock)).expect("start a process"))
        .collect();
    for process in &mut processes {
        process.join().expect("join");
    }

    let k = d.get("k").expect("get").unwrap_or(0);
    let expected = PROCESSES as i64 * INCREMENTS;
    println!("k = {k} after {PROCESSES} processes x {INCREMENTS} increments");
    println!("no update was lost: {}", k == expected);
}
