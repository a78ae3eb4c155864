//! Exercise 02.6: one fork, two returns
//!
//! Lesson 02, section 1 ("One fork, two processes: "hi" is printed twice").
//! The tutorial's Python:
//!
//!     pid = os.fork()
//!     if pid == 0:
//!         print("child, my parent is", os.getppid()); os._exit(0)
//!     os.waitpid(pid, 0)
//!     print("parent, my child was", pid)
//!
//! `fork` returns twice: once in the parent, with the child's pid, and once
//! in the child. This program ignores which it got, so both processes run
//! the same lines. Make the child print who its parent is and end there, and
//! the parent wait for the child, then say which pid it was.
//!
//! Check: `cargo xtask check 02.6`. Stuck: `cargo xtask hint 02.6`.

use nix::unistd::{fork, getpid};

fn main() {
    println!("parent: pid {}", getpid());
    // Safety: this program has one thread, so the child is a complete copy.
    let _forked = unsafe { fork() }.expect("fork");
    // TODO: the child and the parent each do their own part.
    println!("after the fork: pid {}", getpid());
}
