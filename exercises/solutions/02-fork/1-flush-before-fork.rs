//! Solution to exercise 02.1: flush the buffer before `fork`, so the line
//! exists once, in the pipe, and neither process has a copy to print.

use std::io::{BufWriter, Write};

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork};

fn main() {
    let mut out = BufWriter::new(std::io::stdout());
    writeln!(out, "parent: starting").unwrap();
    out.flush().unwrap();

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
