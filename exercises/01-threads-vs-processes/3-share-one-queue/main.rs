//! Exercise 01.3: two threads share one queue of tasks
//!
//! Lesson 01, section 2 ("A 300ms wait, fib(30..=34) and a short fib(20)
//! on a pool of 2 threads, as they complete").
//! The Python this code copies:
//!
//!     tasks = queue.Queue()
//!     for n in range(8):
//!         tasks.put(n)
//!     def worker(name):
//!         while True:
//!             try: n = tasks.get_nowait()
//!             except queue.Empty: return
//!             ...                   # each task takes 50 ms
//!
//! A pool's threads take their tasks from one shared queue: whichever is
//! free takes the next. Below, thread B was given a queue of its own, which
//! is empty, so thread A does all eight tasks alone. std's `mpsc::Receiver`
//! has one owner and cannot be cloned: find a way for both threads to take
//! from the one queue (`Arc` and `Mutex` are in std).
//!
//! Check: `cargo xtask check 01.3`. Stuck: `cargo xtask hint 01.3`.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// One task: 50 ms of waiting (as for a disk or a network).
fn task(n: u32) -> u32 {
    thread::sleep(Duration::from_millis(50));
    n * 10
}

fn main() {
    let (queue, tasks) = mpsc::channel();
    for n in 0..8 {
        queue.send(n).expect("the queue is open");
    }
    drop(queue);
    // TODO: thread B needs the same queue as thread A.
    let (_, nothing_for_b) = mpsc::channel::<u32>();
    let queues = [("A", tasks), ("B", nothing_for_b)];

    let handles: Vec<_> = queues
        .into_iter()
        .map(|(name, tasks)| {
            thread::spawn(move || {
                let mut done = Vec::new();
                while let Ok(n) = tasks.recv() {
                    done.push(task(n));
                }
                (name, done)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut took = Vec::new();
    for handle in handles {
        let (name, done) = handle.join().expect("a worker thread");
        took.push((name, done.len()));
        all.extend(done);
    }
    all.sort_unstable();
    println!("results: {all:?}");
    println!(
        "both threads took tasks: {}",
        took.iter().all(|(_, count)| *count > 0)
    );
}
