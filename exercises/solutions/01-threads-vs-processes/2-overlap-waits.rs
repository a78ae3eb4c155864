//! Solution to exercise 01.2: one scoped thread per fetch; all ten are
//! started before any is joined, and joining in order keeps the order.

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

    let sizes: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = (0..10).map(|page| s.spawn(move || fetch(page))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("fetch does not panic"))
            .collect()
    });

    let took = started.elapsed();
    println!("results, in order: {sizes:?}");
    println!("took {took:?}");
    // One after another they need 2 s; overlapped, about 200 ms.
    println!("the waits overlapped (under 600 ms): {}", took < 3 * WAIT);
}
