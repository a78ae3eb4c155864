//! Solution to exercise 01.3: one receiver behind a mutex, shared by both
//! threads; each locks it only to take the next task.

use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

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
    let tasks = Arc::new(Mutex::new(tasks));

    let handles: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|name| {
            let tasks = Arc::clone(&tasks);
            thread::spawn(move || {
                let mut done = Vec::new();
                loop {
                    // The lock is held only for the `recv`: the guard is
                    // dropped at the end of this statement.
                    let next = tasks.lock().expect("not poisoned").recv();
                    let Ok(n) = next else { break };
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
