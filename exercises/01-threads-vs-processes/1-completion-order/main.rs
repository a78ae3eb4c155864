//! Exercise 01.1: results in the order they finish
//!
//! Lesson 01, section 2 ("... on a pool of 2 threads, as they complete").
//! The tutorial's Python:
//!
//!     with ThreadPoolExecutor(3) as pool:
//!         futures = [pool.submit(nap, name, s) for name, s in jobs]
//!         for future in as_completed(futures):
//!             print(future.result(), "finished")
//!
//! Three threads nap for 500, 100 and 300 ms. Print each name as soon as its
//! thread is done: b, then c, then a. Joining the handles one by one waits
//! for `a` first, so `b` and `c` are printed late and in the wrong order.
//!
//! Check: `cargo xtask check 01.1`. Stuck: `cargo xtask hint 01.1`.

use std::thread;
use std::time::{Duration, Instant};

fn nap(name: &'static str, ms: u64) -> &'static str {
    thread::sleep(Duration::from_millis(ms));
    name
}

fn main() {
    println!("Three naps on three threads: a 500 ms, b 100 ms, c 300 ms");
    let started = Instant::now();
    let jobs = [("a", 500), ("b", 100), ("c", 300)];
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|(name, ms)| thread::spawn(move || nap(name, ms)))
        .collect();

    // TODO: print each name when its thread finishes, not in the order the
    // threads were started. Every thread must still be joined.
    for handle in handles {
        let name = handle.join().expect("a nap does not panic");
        println!("{name} finished");
    }
    println!("all three done in {:?}", started.elapsed());
}
