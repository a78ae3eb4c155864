//! Solution to exercise 04.3: the parent knows how many results will come
//! and waits for each of them, however long it takes.

use std::time::Duration;

use exercises::work_for;
use multiproc::{Process, Queue};

const WORKERS: u64 = 3;
const PER_WORKER: u64 = 4;

fn main() {
    let results: Queue<u64> = Queue::new(0).expect("a queue");
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|w| {
            Process::start(|| {
                for i in 0..PER_WORKER {
                    let n = w * PER_WORKER + i + 1;
                    work_for(Duration::from_millis(3));
                    results.put(&(n * n)).expect("put a result");
                }
            })
            .expect("start a worker")
        })
        .collect();

    let mut squares: Vec<u64> = (0..WORKERS * PER_WORKER)
        .map(|_| results.get().expect("a result"))
        .collect();

    for worker in &mut workers {
        worker.join().expect("join a worker");
    }
    squares.sort();
    println!("collected {} results: {squares:?}", squares.len());
}
