//! Exercise 03.5: CPU work on threads of one process, with rayon
//!
//! Lesson 03, section 8 ("Rust's own way for CPU work in one process:
//! rayon").
//! Python has no counterpart for CPU work (the GIL lets one thread compute
//! at a time): `Pool.map(fib, range(22, 30))` is its way, with processes.
//!
//! Eight fib computations run one after another on the main thread. Run
//! them on the 2 threads of the rayon pool made here instead, in one
//! process: no fork, no copies of arguments and results. Keep the results
//! in the order of the inputs.
//!
//! Check: `cargo xtask check 03.5`. Stuck: `cargo xtask hint 03.5`.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many computations ran on a thread of the rayon pool.
static ON_THE_POOL: AtomicUsize = AtomicUsize::new(0);

fn fib(n: u32) -> u64 {
    if rayon::current_thread_index().is_some() {
        ON_THE_POOL.fetch_add(1, Ordering::Relaxed);
    }
    fn go(n: u32) -> u64 {
        if n < 2 {
            u64::from(n)
        } else {
            go(n - 1) + go(n - 2)
        }
    }
    go(n)
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a rayon pool");
    println!("a rayon pool of {} threads", pool.current_num_threads());
    // TODO: run the eight fibs on the pool's threads.
    let results: Vec<u64> = (22..30).map(fib).collect();
    println!("fib(22..30) = {results:?}");
    println!(
        "every fib ran on a thread of the pool: {}",
        ON_THE_POOL.load(Ordering::Relaxed) == 8
    );
}
