//! Solution to exercise 07.6: the array is a `Shared` of atomics, in memory
//! the forked workers share with the parent; Relaxed stores suffice, since
//! each slot has one writer and the parent reads after the joins.

use std::sync::atomic::{AtomicU64, Ordering};

use multiproc::{Process, Shared};

const WORKERS: usize = 2;

fn main() {
    let shared = Shared::new([0; 8].map(AtomicU64::new)).expect("a shared array");
    let cubes = &shared;
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
