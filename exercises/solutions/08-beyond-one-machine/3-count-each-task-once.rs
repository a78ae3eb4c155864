//! Solution to exercise 08.3: each result under its own task's key, so a
//! second delivery writes the same value again and changes nothing.

use multiproc::{DictProxy, Manager, Process, QueueProxy};

const WORKERS: usize = 2;

/// Records task `n`'s result.
fn record(results: &DictProxy<i64>, n: i64) {
    results.set(&n.to_string(), &(n * n)).expect("set");
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
