//! Solution to exercise 03.2: `close`, then `join`; results stay in their
//! handles afterwards.

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

    pool.close();
    pool.join().expect("join the pool");

    let running = workers
        .iter()
        .filter(|pid| Path::new(&format!("/proc/{pid}")).exists())
        .count();
    println!("workers still running: {running}");
    let results: Vec<u64> = handles.iter().map(|h| h.get().expect("a result")).collect();
    println!("results: {results:?}");
}
