//! Exercise 04.3: collect every result, not "all that came so far"
//!
//! Lesson 04, section 5 (many producers and consumers, every item once).
//! The Python this code copies:
//!
//!     results = []
//!     while True:
//!         try:
//!             results.append(q.get(timeout=0.1))
//!         except queue.Empty:
//!             break                     # "nothing for 0.1 s: all done"
//!
//! Three workers each compute four squares and put them on a queue. The
//! parent stops collecting when nothing has come for 100 ms. One run on an
//! idle machine passes; the check's stress runs give the workers a small
//! share of a CPU, and results go missing. Collect all twelve, every time.
//!
//! Check: `cargo xtask check 04.3`. Stuck: `cargo xtask hint 04.3`.

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
    while let Ok(square) = results.get_timeout(Duration::from_millis(100)) {
        squares.push(square);
    }

    for worker in &mut workers {
        worker.join().expect("join a worker");
    }
    squares.sort();
    println!("collected {} results: {squares:?}", squares.len());
}
