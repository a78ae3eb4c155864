//! Solution to exercise 03.4: chunksize 4 makes each group of four items one
//! task, run by one worker.

use std::time::Duration;

use multiproc::Pool;

/// An item's square, and the worker that computed it.
fn square(x: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(30)); // connect
    (x * x, std::process::id())
}

fn main() {
    let pool = Pool::new(2).expect("start the pool");
    let results = pool.map(square, 0..12, 4).expect("map");
    pool.close();
    pool.join().expect("join the pool");
    let squares: Vec<u64> = results.iter().map(|(s, _)| *s).collect();
    println!("squares: {squares:?}");
    let together = results
        .chunks(4)
        .all(|group| group.iter().all(|(_, pid)| *pid == group[0].1));
    println!("each group of four ran in one worker: {together}");
}
