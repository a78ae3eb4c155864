//! A learner's answer, kept to test the grader: the same guess with a
//! longer sleep (2 s). Wrong: only joining knows when the child is done;
//! the stopped runs pause the child for longer.

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
    thread::sleep(Duration::from_millis(2000));
    let finished = !child.is_alive();

    println!(
        "child finished: {finished}, exitcode: {:?}",
        child.exitcode()
    );
}
