//! Solution to exercise 02.2: `waitpid` blocks until the child has ended,
//! reports its exit status, and reaps it (no zombie is left).

use std::time::Duration;

use exercises::work_for;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

fn main() {
    // Safety: this program has one thread, so the child is a complete copy.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            work_for(Duration::from_millis(20));
            // Safety: `_exit` takes an integer and never returns; the child must
            // not run the rest of the parent's program, nor its exit handlers.
            unsafe { nix::libc::_exit(7) };
        }
        ForkResult::Parent { child } => {
            println!("parent: forked child {child}");
            match waitpid(child, None).expect("wait for the child") {
                WaitStatus::Exited(pid, status) => {
                    println!("parent: child {pid} exited with status {status}");
                }
                other => println!("parent: child {child} ended otherwise: {other:?}"),
            }
        }
    }
}
