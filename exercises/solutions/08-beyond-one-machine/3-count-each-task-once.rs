//! Solution to exercise 08.3: each result under its own task's key, so a
//! second delivery writes the same value again and changes nothing.

use std::time::Duration;

use multiproc::{DictProxy, Manager, ManagerError, Process, QueueProxy};

const WORKERS: usize = 2;

/// Records task `n`'s result.
fn record(results: &DictProxy<i64>, n: i64) {
    results.set(&n.to_string(), &(n * n)).expect("set");
}

/// Takes tasks until none comes for 0.3 s.
fn work(tasks: &QueueProxy<i64>, results: &DictProxy<i64>) {
    loop {
        match tasks.get(Some(Duration::from_millis(300))) {
            Ok(n) => record(results, n),
            Err(ManagerError::Empty) => return,
            Err(e) => panic!("get: {e}"),
        }
    }
}

fn main() {
    let manager = Manager::start().expect("start a manager");
    let results: DictProxy<i64> = manager.dict().expect("a dict");
    let tasks: QueueProxy<i64> = manager.queue(0).expect("a queue");
    // At least once: task 3 comes twice.
    let deliveries: Vec<i64> = (1..=10).chain([3]).collect();
    for n in &deliveries {
        tasks.put(n, None).expect("put");
    }
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|_| Process::start(|| work(&tasks, &results)).expect("start a worker"))
        .collect();
    for worker in &mut workers {
        assert_eq!(worker.join().expect("join"), 0, "a worker failed");
    }
    let total: i64 = results
        .items()
        .expect("items")
        .iter()
        .map(|(_, value)| value)
        .sum();
    println!("{} deliveries of 10 tasks (task 3 twice)", deliveries.len());
    println!(
        "total of the results: {total}; exactly 385: {}",
        total == 385
    );
    drop((results, tasks));
    manager.shutdown().expect("shutdown");
}
