//! A wrong fix of exercise 02.2, kept to test the check's stress runs: the
//! parent gives the child 100 ms, then asks without waiting (`WNOHANG`).
//! On an idle machine the child's 20 ms of work are long done, and a single
//! run passes; when it gets a small share of a CPU, it is still running.

use std::time::Duration;

use exercises::work_for;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
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
            std::thread::sleep(Duration::from_millis(100));
            match waitpid(child, Some(WaitPidFlag::WNOHANG)).expect("waitpid") {
                WaitStatus::Exited(pid, status) => {
                    println!("parent: child {pid} exited with status {status}");
                }
                other => println!("parent: child {child} has not exited: {other:?}"),
            }
        }
    }
}
