//! Exercise 03.3: one task panics, the others still count
//!
//! Lesson 03, section 6 ("When a task panics, and when a worker dies").
//! The Python this code copies:
//!
//!     results = [pool.apply_async(parse, (s,)) for s in readings]
//!     for s, r in zip(readings, results):
//!         try:
//!             print(s, r.get())
//!         except ValueError as e:
//!             print(s, "failed:", e)
//!
//! Four readings are parsed on a pool; one of them is not a number, and its
//! task panics in the worker. `get()` then returns an `Err` that says so.
//! Below, every result is unwrapped, so that one bad reading ends the whole
//! program and the good ones are never added up. Print each reading's value
//! or its error, and the total of the good ones.
//!
//! Check: `cargo xtask check 03.3`. Stuck: `cargo xtask hint 03.3`.

use multiproc::Pool;

/// Runs in a worker: a reading that is not a number panics there.
fn parse(reading: String) -> u32 {
    match reading.parse() {
        Ok(value) => value,
        Err(_) => panic!("not a number: {reading:?}"),
    }
}

fn main() {
    let readings = ["12", "7", "oops", "30"];
    let pool = Pool::new(2).expect("start a pool of 2 workers");
    let handles: Vec<_> = readings
        .iter()
        .map(|r| pool.apply_async(parse, r.to_string()).expect("submit"))
        .collect();
    let mut total = 0;
    for (reading, handle) in readings.iter().zip(&handles) {
        // TODO: a task that panicked gives an Err here.
        let value = handle.get().unwrap();
        println!("reading {reading:?}: {value}");
        total += value;
    }
    println!("total of the good readings: {total}");
    pool.close();
    pool.join().expect("join the pool");
}
