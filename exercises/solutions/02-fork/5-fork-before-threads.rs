//! Solution to exercise 02.5: the worker is forked while the program has one
//! thread; the ticker starts after it, and both run side by side.

use std::thread;
use std::time::Duration;

use multiproc::Process;

fn work() -> i32 {
    thread::sleep(Duration::from_millis(200));
    7
}

fn main() {
    let mut worker = Process::start_with_code(work).expect("fork the worker");
    let ticker = thread::spawn(|| {
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(50));
        }
        "the ticker ticked 3 times"
    });

    println!("{}", ticker.join().expect("the ticker"));
    println!("the worker ended with {}", worker.join().expect("join"));
}
