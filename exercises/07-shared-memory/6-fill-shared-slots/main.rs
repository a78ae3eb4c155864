//! Exercise 07.6: workers fill their own slots of one shared array
//!
//! Lesson 07, sections 1 and 4 ("A static does not cross a fork; a Value
//! does"; "Workers fill their own slots of one array, with no lock").
//! Python:
//!
//!     cubes = Array('q', 8, lock=False)
//!     def fill(cubes, w):
//!         for i in range(4 * w, 4 * w + 4):
//!             cubes[i] = i ** 3
//!
//! Two workers each fill four slots of an array with cubes; the parent
//! prints the array after joining them. The array is a static, in this
//! program's memory, and each forked worker filled its own copy: the parent
//! sees zeros. Give the workers
//! one array in shared memory. No lock is needed: each slot has one writer,
//! and the parent reads after the joins.
//!
//! Check: `cargo xtask check 07.6`. Stuck: `cargo xtask hint 07.6`.

use std::sync::atomic::{AtomicU64, Ordering};

use multiproc::Process;

const WORKERS: usize = 2;

/// The array, in this program's own memory.
static CUBES: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn main() {
    // TODO: an array in memory that the workers share with the parent.
    let cubes = &CUBES;
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|w| {
            Process::start(move || {
                for i in 4 * w..4 * w + 4 {
                    cubes[i].store((i as u64).pow(3), Ordering::Relaxed);
                }
            })
            .expect("start a worker")
        })
        .collect();
    for worker in &mut workers {
        worker.join().expect("join");
    }
    let read: Vec<u64> = cubes.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    println!("after the joins: {read:?}");
}
