#![allow(clippy::dbg_macro)]
//! A learner's answer, kept to test the grader: right, with debugging
//! output left in (`eprintln!` and `dbg!` on stderr), and a crate attribute
//! first. It must pass: stderr is shown, not graded.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// How many naps have cleaned up after themselves.
static CLEANED_UP: AtomicU32 = AtomicU32::new(0);

/// What a nap leaves to do when its thread exits (closing a connection,
/// say): 100 ms of it, after the result is out. Do not change it.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        thread::sleep(Duration::from_millis(100));
        CLEANED_UP.fetch_add(1, Ordering::SeqCst);
    }
}

thread_local! {
    static CLEANUP: Cleanup = const { Cleanup };
}

fn nap(name: &'static str, ms: u64) -> (&'static str, u64) {
    CLEANUP.with(|_| {}); // runs its drop when this thread exits
    thread::sleep(Duration::from_millis(ms));
    (name, ms)
}

/// The three naps: 100, 300 and 500 ms, given to a, b and c in a different
/// order each run. Do not change it.
fn jobs() -> [(&'static str, u64); 3] {
    const ORDERS: [[u64; 3]; 6] = [
        [500, 100, 300],
        [100, 500, 300],
        [300, 100, 500],
        [100, 300, 500],
        [500, 300, 100],
        [300, 500, 100],
    ];
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as usize / 1000);
    let ms = ORDERS[seed % ORDERS.len()];
    [("a", ms[0]), ("b", ms[1]), ("c", ms[2])]
}

fn main() {
    let jobs = jobs();
    println!(
        "Three naps on three threads: a {} ms, b {} ms, c {} ms",
        jobs[0].1, jobs[1].1, jobs[2].1
    );
    let started = Instant::now();
    let (done, finished) = mpsc::channel();
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|(name, ms)| {
            let done = done.clone();
            thread::spawn(move || {
                eprintln!("starting {name}");
                done.send(nap(name, ms)).expect("main is receiving")
            })
        })
        .collect();
    for (name, ms) in finished.iter().take(jobs.len()) {
        dbg!(name);
        println!("{name} finished ({ms} ms)");
    }
    for handle in handles {
        handle.join().expect("a nap does not panic");
    }
    println!("all three done in {:?}", started.elapsed());
    println!(
        "every thread was joined, its cleanup done: {}",
        CLEANED_UP.load(Ordering::SeqCst) == 3
    );
}
