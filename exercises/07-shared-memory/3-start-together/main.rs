//! Exercise 07.3: no worker starts before every worker is ready
//!
//! Lesson 07, section 6 ("A Semaphore(2) over 5 workers, then a Barrier that
//! lets 4 go together").
//! Python:
//!
//!     ready = Barrier(3)
//!     def worker(ready, k):
//!         set_up(k)                       # takes longer for some
//!         ready.wait()                    # everyone set up: go
//!         run()
//!
//! Three workers each set up (worker 0 takes 100 ms, worker 2 none), then
//! run. A race that measures them is only fair if none runs before all are
//! set up: today worker 2 runs while worker 0 is still setting up. Make
//! every worker wait until all three are set up, whatever the scheduler
//! does.
//!
//! Check: `cargo xtask check 07.3`. Stuck: `cargo xtask hint 07.3`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use multiproc::{Process, Shared};

const WORKERS: usize = 3;

/// Nanoseconds on the clock every process shares (`Instant` cannot leave
/// its process).
fn now_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

/// How long worker `k` takes to set up: 100 ms for worker 0, 50 for
/// worker 1, none for worker 2.
fn setup(k: usize) -> Duration {
    Duration::from_millis(50 * (WORKERS - 1 - k) as u64)
}

/// When each worker was set up (`[k]`) and when it started to run
/// (`[WORKERS + k]`).
type Times = Shared<[AtomicU64; 2 * WORKERS]>;

fn worker(k: usize, times: &Times) {
    std::thread::sleep(setup(k)); // set up
    times[k].store(now_ns(), Ordering::SeqCst);
    // TODO: wait here until every worker is set up.
    times[WORKERS + k].store(now_ns(), Ordering::SeqCst);
}

fn main() {
    let times: Times = Shared::new([0; 2 * WORKERS].map(AtomicU64::new)).expect("shared times");
    let began = now_ns();
    let mut workers: Vec<Process> = (0..WORKERS)
        .map(|k| {
            let times = &times;
            Process::start(move || worker(k, times)).expect("start a worker")
        })
        .collect();
    for worker in &mut workers {
        worker.join().expect("join");
    }
    let at = |i: usize| times[i].load(Ordering::SeqCst);
    let last_ready = (0..WORKERS).map(at).max().unwrap_or(0);
    let first_start = (WORKERS..2 * WORKERS).map(at).min().unwrap_or(0);
    // For the grader's schedule, if a stress run fails: each worker's set-up,
    // and the moment it began to run.
    for k in 0..WORKERS {
        let row = format!("worker {k}");
        exercises::schedule_span(&row, "set up", began, at(k));
        exercises::schedule_span(&row, "run", at(WORKERS + k), at(WORKERS + k) + 1);
    }
    println!("{WORKERS} workers set up, then ran");
    println!(
        "no worker ran before all were set up: {}",
        first_start >= last_ready
    );
}
