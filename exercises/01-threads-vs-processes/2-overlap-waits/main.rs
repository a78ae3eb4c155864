//! Exercise 01.2: let ten waits overlap
//!
//! Lesson 01, section 7 ("IO-bound work: 10 threads each wait 100ms").
//! The tutorial's Python:
//!
//!     with ThreadPoolExecutor(10) as pool:
//!         sizes = list(pool.map(fetch, range(10)))
//!
//! `fetch` stands for a request to a slow server: it waits 200 ms and uses
//! no CPU while it waits. Ten of them one after another take 2 s. Run them
//! on ten threads so the waits overlap, and keep the results in order.
//! Do not change `fetch`.
//!
//! Check: `cargo xtask check 01.2`. Stuck: `cargo xtask hint 01.2`.

use std::thread;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_millis(200);

/// A slow request: 200 ms of waiting, then an answer.
fn fetch(page: u64) -> u64 {
    thread::sleep(WAIT);
    page * page
}

fn main() {
    println!("Ten fetches, each waiting 200 ms");
    let started = Instant::now();

    // TODO: run the ten fetches at the same time, on threads.
    let sizes: Vec<u64> = (0..10).map(fetch).collect();

    let took = started.elapsed();
    println!("results, in order: {sizes:?}");
    println!("took {took:?}");
    // One after another they need 2 s; overlapped, about 200 ms.
    println!("the waits overlapped (under 600 ms): {}", took < 3 * WAIT);
}
