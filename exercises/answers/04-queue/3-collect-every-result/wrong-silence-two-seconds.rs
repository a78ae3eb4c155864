//! A learner's answer, kept to test the grader: a silence of 2 s taken as
//! the end. Wrong: a stopped producer is silent for longer.

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

    // TODO: "nothing for 100 ms" does not mean "nothing more will come".
    let mut squares = Vec::new();
    while let Ok(square) = results.get_timeout(Duration::from_millis(2000)) {
        squares.push(square);
    }

    for worker in &mut workers {
        worker.join().expect("join a worker");
    }
    squares.sort();
    println!("collected {} results: {squares:?}", squares.len());
}
