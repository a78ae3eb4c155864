//! Exercise 02.1: flush before fork, so a line is printed once
//!
//! Lesson 02, section 3 ("Text still in the stdout buffer at fork time is
//! printed twice").
//! The tutorial's Python (run with its output going to a file or a pipe):
//!
//!     print("parent: starting")      # stays in the buffer
//!     pid = os.fork()                 # the child gets a copy of the buffer
//!
//! `out` buffers like Python's stdout does when it is not a terminal: text
//! waits in memory until the buffer is flushed. `fork` copies that memory,
//! so the line the parent wrote before forking is printed by both processes.
//! Make it appear once. Keep the `BufWriter`.
//!
//! Check: `cargo xtask check 02.1`. Stuck: `cargo xtask hint 02.1`.

use std::io::{BufWriter, Write};

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() {
    let mut out = BufWriter::new(std::io::stdout());
    writeln!(out, "parent: starting").unwrap();

    // TODO: the line above must reach stdout once.

    // Safety: this program has one thread, so the child is a complete copy.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            writeln!(out, "child: hello").unwrap();
            out.flush().unwrap();
            // Safety: `_exit` takes an integer and never returns; the child must
            // not run the rest of the parent's program, nor its exit handlers.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            waitpid(child, None).expect("wait for the child");
            writeln!(out, "parent: the child is done").unwrap();
            out.flush().unwrap();
        }
    }
}
