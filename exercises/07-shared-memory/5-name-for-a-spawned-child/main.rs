//! Exercise 07.5: give a spawned program shared memory by its name
//!
//! Lesson 07, section 7 ("SharedMemory: a program started afresh finds it
//! by its name").
//! Python:
//!
//!     shm = shared_memory.SharedMemory(create=True, size=8)
//!     p = get_context("spawn").Process(target=count, args=(shm.name,))
//!
//! A child started with the spawn method runs this program afresh: it
//! inherits no memory, so a `Value` made here is nothing there, and the
//! argument must travel as bytes. This does not compile: a `Value` cannot
//! be an argument of `Process::spawn`. Give the child a block of shared
//! memory by its name instead, and have it write its count (8 bytes) there.
//!
//! Check: `cargo xtask check 07.5`. Stuck: `cargo xtask hint 07.5`.

use multiproc::{Process, Value};

fn count_primes() -> u64 {
    (2..5000_u64)
        .filter(|&n| {
            (2..n)
                .take_while(|d| d * d <= n)
                .all(|d| !n.is_multiple_of(d))
        })
        .count() as u64
}

/// The spawned child's work.
fn count_into(result: Value<u64>) {
    result.set(count_primes()).expect("set");
}

fn main() {
    // Spawned children start here too: init() runs their function instead.
    multiproc::init();
    // TODO: a Value is not inherited by a spawned child; share memory by name.
    let result = Value::new(0_u64).expect("a Value");
    let mut child = Process::spawn(count_into, result).expect("spawn the child");
    println!(
        "the spawned child's exitcode: {}",
        child.join().expect("join")
    );
    println!(
        "primes below 5000, counted by the child: {}",
        result.get().expect("get")
    );
}
