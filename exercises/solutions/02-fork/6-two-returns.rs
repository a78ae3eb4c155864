//! Solution to exercise 02.6: the child and the parent take different arms
//! of what `fork` returned.

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, getpid, getppid};

fn main() {
    println!("parent: pid {}", getpid());
    // Safety: this program has one thread, so the child is a complete copy.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            println!("child: my parent is {}", getppid());
            // Safety: `_exit` takes an integer and never returns; the child
            // must not run the parent's code or its exit handlers.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("waitpid");
            println!("parent: my child was {child}, and it has exited");
        }
    }
}
