//! Exercise 02.3: wait for a process, do not guess how long it takes
//!
//! Lesson 02, section 6 (`Process`, the tutorial's print_fib in a child).
//! The Python this code copies:
//!
//!     p = Process(target=work); p.start()
//!     time.sleep(0.2)                 # "it is surely done by now"
//!     print(p.exitcode)
//!
//! The child needs about 20 ms of CPU, so 200 ms looks generous, and one
//! run on an idle machine passes. On a busy machine the child gets a small
//! share of a CPU and is not done after 200 ms: the check's stress runs
//! show it. Make the parent wait for the child, however slow it is.
//!
//! Check: `cargo xtask check 02.3`. Stuck: `cargo xtask hint 02.3`.

use std::thread;
use std::time::Duration;

use exercises::work_for;
use multiproc::Process;

fn main() {
    let mut child = Process::start_with_code(|| {
        work_for(Duration::from_millis(20));
        3
    })
    .expect("start a child");
    println!("started a child that works, then exits with 3");

    // TODO: this guesses that 200 ms is enough.
    thread::sleep(Duration::from_millis(200));
    let finished = !child.is_alive();

    println!(
        "child finished: {finished}, exitcode: {:?}",
        child.exitcode()
    );
}
