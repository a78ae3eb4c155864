//! Exercise 01.4: a process pool's results as they complete
//!
//! Lesson 01, section 3 ("The same tasks on a pool of 2 processes, as they
//! complete").
//! The tutorial's Python:
//!
//!     with ProcessPoolExecutor(2) as pool:
//!         futures = [pool.submit(nap, ms) for ms in naps]
//!         for future in as_completed(futures):
//!             print(future.result(), "ms nap finished")
//!
//! Three naps of 100, 400 and 700 ms (in an order that changes from run to
//! run) go to a pool of 3 worker processes. Print each as soon as its
//! worker is done, shortest first. Reading the handles in the order they
//! were submitted waits for the first nap, however long it is.
//! `Report` checks the order against when each nap really ended.
//!
//! Check: `cargo xtask check 01.4`. Stuck: `cargo xtask hint 01.4`.

use std::time::{Duration, SystemTime};

use multiproc::Pool;

/// A nap in a worker: its length, and when it ended (nanoseconds on the
/// clock all processes share).
fn nap(ms: u64) -> (u64, u64) {
    std::thread::sleep(Duration::from_millis(ms));
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    (
        ms,
        now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64,
    )
}

/// Prints each result, and remembers whether they came in the order the
/// naps ended. Do not change it.
#[derive(Default)]
struct Report {
    last_end: u64,
    in_order: bool,
    printed: usize,
}

impl Report {
    fn finished(&mut self, (ms, ended): (u64, u64)) {
        println!("{ms} ms nap finished");
        self.in_order = (self.printed == 0 || self.in_order) && ended >= self.last_end;
        self.last_end = ended;
        self.printed += 1;
    }

    fn summary(&self) {
        println!(
            "printed in the order they ended: {}",
            self.in_order && self.printed == 3
        );
    }
}

/// The three naps, in a different order each run. Do not change it.
fn naps() -> [u64; 3] {
    const ORDERS: [[u64; 3]; 6] = [
        [700, 100, 400],
        [100, 700, 400],
        [400, 100, 700],
        [100, 400, 700],
        [700, 400, 100],
        [400, 700, 100],
    ];
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize / 1000);
    ORDERS[seed % ORDERS.len()]
}

fn main() {
    let naps = naps();
    println!("naps, as submitted: {naps:?}");
    let pool = Pool::new(3).expect("start the pool");
    let handles: Vec<_> = naps
        .iter()
        .map(|&ms| pool.apply_async(nap, ms).expect("submit"))
        .collect();
    // TODO: print each result as its task completes (multiproc::as_completed).
    let mut report = Report::default();
    for handle in handles {
        report.finished(handle.get().expect("a nap"));
    }
    report.summary();
    pool.close();
    pool.join().expect("join the pool");
}
