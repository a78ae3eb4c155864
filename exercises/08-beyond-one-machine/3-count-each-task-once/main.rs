//! Exercise 08.3: a result that a task delivered twice counts once
//!
//! Lesson 08, section 5 ("A worker killed holding a task: Redis, BRPOP then
//! BLMOVE").
//! Python:
//!
//!     def record(results, n):
//!         results["sum"] = results.get("sum", 0) + n * n   # twice if delivered twice
//!
//! A queue that delivers at least once: a worker died after it had recorded
//! task 3's result but before it could say so, and the reaper put task 3
//! back, so 11 deliveries come for 10 tasks. Two workers record each task's
//! result, n * n; the total of the results must be 385 (1 + 4 + ... + 100)
//! however often a task comes. Make recording a result idempotent: doing it
//! twice must leave the same as doing it once.
//!
//! Check: `cargo xtask check 08.3`. Stuck: `cargo xtask hint 08.3`.

use multiproc::{DictProxy, Manager, Process, QueueProxy};

const WORKERS: usize = 2;

/// Records task `n`'s result.
fn record(results: &DictProxy<i64>, n: i64) {
    // TODO: a task delivered twice must leave the results as once.
    results.add("sum", n * n).expect("add");
}

/// Takes tasks until the one that says there are no more (`None`).
fn work(tasks: &QueueProxy<Option<i64>>, results: &DictProxy<i64>) {
    while let Some(n) = tasks.get(None).expect("get") {
        record(results, n);
    }
}

fn main() {
    let manager = Manager::start().expect("start a manager");
    let results: DictProxy<i64> = manager.dict().expect("a dict");
    let tasks: QueueProxy<Option<i64>> = manager.queue(0).expect("a queue");
    // At least once: task 3 comes twice. Then one None per worker: stop.
    let deliveries: Vec<i64> = (1..=10).chain([3]).collect();
    for n in &deliveries {
        tasks.put(&Some(*n), None).expect("put");
    }
    for _ in 0..WORKERS {
        tasks.put(&None, None).expect("put");
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
