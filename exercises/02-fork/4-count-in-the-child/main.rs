//! Exercise 02.4: bring the child's count back
//!
//! Lesson 02, section 2 ("The child's memory is a copy: a change there stays
//! there").
//! The tutorial's Python:
//!
//!     primes = 0                           # a global
//!     def count():
//!         global primes
//!         primes = sum(1 for n in range(2, 1000) if is_prime(n))
//!     p = Process(target=count); p.start(); p.join()
//!     print(primes)                        # 0: the child changed its copy
//!
//! A child counts the primes below 1000 and stores the count in a global; the
//! parent prints the global and finds 0, because the child wrote its own copy
//! of it. Bring the count back to the parent through what a child can hand
//! over without any extra channel: the way it ends. (A count below 256 fits.)
//!
//! Check: `cargo xtask check 02.4`. Stuck: `cargo xtask hint 02.4`.

use std::sync::atomic::{AtomicU32, Ordering};

use multiproc::Process;

/// The count, as the child leaves it.
static PRIMES: AtomicU32 = AtomicU32::new(0);

fn is_prime(n: u32) -> bool {
    n >= 2
        && (2..n)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

fn count_primes() -> u32 {
    (2..1000).filter(|&n| is_prime(n)).count() as u32
}

fn main() {
    // TODO: the child's count must reach the parent.
    let mut child = Process::start(|| {
        PRIMES.store(count_primes(), Ordering::SeqCst);
    })
    .expect("start the child");
    child.join().expect("join");
    let primes = PRIMES.load(Ordering::SeqCst);
    println!("primes below 1000, counted in the child: {primes}");
    println!("counted here instead: {}", count_primes());
}
