//! Exercise 03.4: four items to a task
//!
//! Lesson 03, section 5 ("map and chunksize: the same results, fewer
//! messages").
//! The tutorial's Python:
//!
//!     pool.map(square, range(12), chunksize=4)
//!
//! Each item of this map opens a connection first (`connect`, 30 ms), and a
//! connection can serve the items that run right after it in the same
//! worker. Send the 12 items to the 2 workers four at a time, so that each
//! group of four runs in one worker, one after another. The results must
//! stay in order.
//!
//! Check: `cargo xtask check 03.4`. Stuck: `cargo xtask hint 03.4`.

use std::time::Duration;

use multiproc::Pool;

/// An item's square, and the worker that computed it.
fn square(x: u64) -> (u64, u32) {
    std::thread::sleep(Duration::from_millis(30)); // connect
    (x * x, std::process::id())
}

fn main() {
    let pool = Pool::new(2).expect("start the pool");
    // TODO: four items to a task.
    let results = pool.map(square, 0..12, 1).expect("map");
    pool.close();
    pool.join().expect("join the pool");
    let squares: Vec<u64> = results.iter().map(|(s, _)| *s).collect();
    println!("squares: {squares:?}");
    let together = results
        .chunks(4)
        .all(|group| group.iter().all(|(_, pid)| *pid == group[0].1));
    println!("each group of four ran in one worker: {together}");
}
