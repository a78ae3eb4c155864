//! Solution to exercise 03.5: `install` runs a parallel iterator on the
//! pool's two threads; `collect` keeps the inputs' order.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

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
    let results: Vec<u64> = pool.install(|| (22..30).into_par_iter().map(fib).collect());
    println!("fib(22..30) = {results:?}");
    println!(
        "every fib ran on a thread of the pool: {}",
        ON_THE_POOL.load(Ordering::Relaxed) == 8
    );
}
