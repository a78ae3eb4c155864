#![allow(clippy::dbg_macro)]
//! A learner's answer, kept to test the grader: right, with debugging
//! output left in (`eprintln!` and `dbg!` on stderr), and a crate attribute
//! first. It must pass: stderr is shown, not graded.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn nap(name: &'static str, ms: u64) -> &'static str {
    thread::sleep(Duration::from_millis(ms));
    name
}

fn main() {
    println!("Three naps on three threads: a 500 ms, b 100 ms, c 300 ms");
    let started = Instant::now();
    let jobs = [("a", 500), ("b", 100), ("c", 300)];
    let (done, finished) = mpsc::channel();
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|(name, ms)| {
            let done = done.clone();
            thread::spawn(move || done.send(nap(name, ms)).expect("main is receiving"))
        })
        .collect();
    for name in finished.iter().take(jobs.len()) {
        eprintln!("debug: got {name} after {:?}", started.elapsed());
        println!("{}", dbg!(format!("{name} finished")));
    }
    for handle in handles {
        handle.join().expect("a nap does not panic");
    }
    println!("all three done in {:?}", started.elapsed());
}
