//! Solution to exercise 02.3: `join` waits exactly as long as the child
//! needs, on an idle machine and on a busy one.

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

    child.join().expect("wait for the child");
    let finished = !child.is_alive();

    println!(
        "child finished: {finished}, exitcode: {:?}",
        child.exitcode()
    );
}
