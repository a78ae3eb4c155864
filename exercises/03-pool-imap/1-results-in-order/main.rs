//! Exercise 03.1: results in the order the tasks were given, from
//! `apply_async`
//!
//! Lesson 03, sections 1, 2 and 4 (`apply_async`; `imap`; `imap_unordered`).
//! The tutorial's Python:
//!
//!     results = [pool.apply_async(nap_then_square, (n,)) for n in (3, 1, 2)]
//!     print([r.get() for r in results])       # what pool.imap gives
//!
//! Task `n` naps `n` tenths of a second, then returns `n * n`. The code
//! below prints the results as they finish (what `imap_unordered` gives):
//! 1, 4, 9. Print them in the order the tasks were given, as `imap` does:
//! 9, 1, 4.
//!
//! Check: `cargo xtask check 03.1`. Stuck: `cargo xtask hint 03.1`.

use std::time::Duration;

use multiproc::{Pool, as_completed};

fn nap_then_square(n: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(100 * n));
    n * n
}

fn main() {
    let pool = Pool::new(3).expect("start a pool of 3 workers");
    let given = [3, 1, 2];
    println!("tasks given in this order: {given:?}");
    let handles: Vec<_> = given
        .iter()
        .map(|&n| pool.apply_async(nap_then_square, n).expect("submit"))
        .collect();

    // TODO: print the results in the order the tasks were given.
    for handle in as_completed(handles) {
        let square = handle.get().expect("the task's result");
        println!("result: {square}");
    }
}
