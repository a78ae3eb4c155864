//! The checks every lesson's own `tests/cli.rs` makes: it refuses arguments,
//! and a whole run prints its key facts and leaves nothing behind. Both run
//! the binary the way verify does (see [`crate::runner`]).

use std::path::Path;
use std::time::Duration;

use crate::runner::{self, Run};

/// A lesson given `args` prints nothing on stdout, says on stderr that it
/// takes no arguments and how to run it (`cargo run -p PACKAGE`), and exits
/// with status 2. Panics (it is a test) if not.
pub fn refuses_arguments(binary: &str, package: &str, args: &[&str]) {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    let run =
        runner::run(Path::new(binary), &args, Duration::from_secs(10)).expect("start the lesson");
    assert_eq!((run.exit, run.timed_out), (2, false), "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    for expected in [
        format!(
            "this lesson takes no arguments, but got: {}",
            args.join(" ")
        ),
        format!("usage: cargo run -p {package}"),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "missing `{expected}` in stderr:\n{}",
            run.stderr
        );
    }
}

/// Runs a lesson the way verify does (killed as a group after 60 s) and
/// checks that it exits 0 within `within`, leaves no process behind, and
/// prints every line fragment in `facts`. Returns the run for more checks.
/// Panics (it is a test) if not.
pub fn run_prints(binary: &str, facts: &[&str], within: Duration) -> Run {
    let run =
        runner::run(Path::new(binary), &[], Duration::from_secs(60)).expect("start the lesson");
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    for fact in facts {
        assert!(
            run.stdout.contains(fact),
            "missing `{fact}` in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.elapsed < within,
        "took {:?}, more than {within:?}",
        run.elapsed
    );
    run
}
