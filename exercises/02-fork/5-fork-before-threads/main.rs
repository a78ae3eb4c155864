//! Exercise 02.5: fork before starting threads
//!
//! Lesson 02, section 7 ("Forking a process that has threads: the child can
//! hang forever").
//! Python (3.12 warns about this; 3.14 no longer forks by default):
//!
//!     t = threading.Thread(target=tick); t.start()
//!     p = Process(target=work); p.start()  # os.fork() with a thread running
//!
//! The program runs a ticker thread and a worker process side by side. It
//! starts the thread first, and `Process::start` refuses to fork: a forked
//! child would get a copy of this thread only, with any lock the ticker held
//! locked for good. Let the fork succeed, with the ticker still a thread
//! and the worker still a forked process (not a spawned one).
//!
//! Check: `cargo xtask check 02.5`. Stuck: `cargo xtask hint 02.5`.

use std::thread;
use std::time::Duration;

use multiproc::Process;

fn work() -> i32 {
    thread::sleep(Duration::from_millis(200));
    7
}

fn main() {
    let ticker = thread::spawn(|| {
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(50));
        }
        "the ticker ticked 3 times"
    });
    // TODO: this fork is refused while the ticker thread exists.
    let mut worker = Process::start_with_code(work).expect("fork the worker");

    println!("{}", ticker.join().expect("the ticker"));
    println!("the worker ended with {}", worker.join().expect("join"));
}
