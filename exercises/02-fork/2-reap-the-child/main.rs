//! Exercise 02.2: reap a child and report its exit status
//!
//! Lesson 02, sections 4 and 5 (zombies; how a child ended).
//! The tutorial's Python:
//!
//!     pid = os.fork()
//!     if pid == 0:
//!         work(); os._exit(7)
//!     _, status = os.waitpid(pid, 0)
//!     print(os.WEXITSTATUS(status))
//!
//! The child works a little and exits with status 7. The parent forgets it:
//! when the parent ends, the child is left behind (a zombie if it has
//! exited: nobody collected its status). Wait for the child and print how
//! it ended.
//!
//! Check: `cargo xtask check 02.2`. Stuck: `cargo xtask hint 02.2`.

use std::time::Duration;

use exercises::work_for;
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
            // TODO: wait for the child (nix::sys::wait::waitpid) and print
            //     parent: child <pid> exited with status <status>
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
