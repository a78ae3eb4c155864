//! A learner's answer, kept to test the grader: the right output, but each
//! run takes 2 s more than it must, so the check's runs do not fit in its
//! time budget. It must not be marked solved: a check passes only after all
//! its runs.

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
            // Slow for no reason: 21 runs of 2 s do not fit in the budget.
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }
}
