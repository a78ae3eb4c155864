//! A learner's answer, kept to test the grader: right, in another style:
//! `join_timeout(1 s)` in a loop that never gives up, with a note on stderr
//! while it waits. It must pass on any schedule, a stopped child's
//! included.

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

    // Waits as long as it takes, a second at a time, and says so.
    while child
        .join_timeout(Duration::from_secs(1))
        .expect("wait for the child")
        .is_none()
    {
        eprintln!("still waiting for the child");
    }
    let finished = !child.is_alive();

    println!(
        "child finished: {finished}, exitcode: {:?}",
        child.exitcode()
    );
}
