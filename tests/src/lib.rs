//! What every lesson's own tests share: the usage check and a full run with
//! its key facts. Each lesson's `tests/cli.rs` names its binary and its facts
//! and calls these. The cross-lesson tests are in `tests/tests/`; this
//! crate's binaries (`src/bin/`) are misbehaving fake lessons that prove
//! `verify` catches what it should.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
pub use xtask::runner::Run;

/// A lesson given `args` prints nothing on stdout, says on stderr that it
/// takes no arguments and how to run it, and exits with status 2.
pub fn refuses_arguments(binary: &str, package: &str, args: &[&str]) {
    Command::new(binary)
        .args(args)
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "this lesson takes no arguments, but got: {}",
            args.join(" ")
        )))
        .stderr(predicate::str::contains(format!(
            "usage: cargo run -p {package}"
        )));
}

/// Runs a lesson the way verify does (own process group, stdin null, killed
/// as a group after 60 s) and checks that it exits 0 within `within`, leaves
/// no process behind, and prints every line fragment in `facts`. Returns the
/// run for more checks.
pub fn run_prints(binary: &str, facts: &[&str], within: Duration) -> Run {
    let run = xtask::runner::run(Path::new(binary), &[], Duration::from_secs(60))
        .expect("start the lesson");
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    for fact in facts {
        assert!(
            predicate::str::contains(*fact).eval(&run.stdout),
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
