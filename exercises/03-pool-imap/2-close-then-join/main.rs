//! Exercise 03.2: close a pool, then join it
//!
//! Lesson 03, section 7 ("join before close is refused").
//! The tutorial's Python:
//!
//!     pool = Pool(2)
//!     results = [pool.apply_async(square_slowly, (n,)) for n in range(1, 5)]
//!     pool.close()        # no more tasks
//!     pool.join()         # wait for the queued ones, and for the workers
//!
//! Below, the pool is joined before it is closed: refused, as in Python
//! ("ValueError: Pool is still running"). Let the four tasks finish and the
//! workers exit, then print the results.
//!
//! Check: `cargo xtask check 03.2`. Stuck: `cargo xtask hint 03.2`.

use std::path::Path;
use std::time::Duration;

use exercises::work_for;
use multiproc::Pool;

fn square_slowly(n: u64) -> u64 {
    work_for(Duration::from_millis(10));
    n * n
}

fn main() {
    let pool = Pool::new(2).expect("start a pool of 2 workers");
    let workers = pool.worker_pids();
    let handles: Vec<_> = (1..=4)
        .map(|n| pool.apply_async(square_slowly, n).expect("submit"))
        .collect();
    println!("submitted 4 tasks to 2 workers");

    // TODO: wait for the queued tasks and the workers, in the right order.
    pool.join().expect("join the pool");
    pool.close();

    let running = workers
        .iter()
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .count();
    println!("workers still running: {running}");
    let results: Vec<u64> = handles.iter().map(|h| h.get().expect("a result")).collect();
    println!("results: {results:?}");
}
