//! Lesson 05 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process behind.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-05-pipe");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    Command::new(BINARY)
        .arg("--verbose")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "this lesson takes no arguments, but got: --verbose",
        ))
        .stderr(predicate::str::contains(
            "usage: cargo run -p lesson-05-pipe",
        ));
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = xtask::runner::run(Path::new(BINARY), &[], Duration::from_secs(60)).unwrap();
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    assert_eq!(run.stderr, "");
    for fact in [
        "consumer get: a (recv waited ",
        "parent sent 4, child sent back 5",
        "  poll -> ready: Err(Eof): every write end is closed",
        "  recv -> Err(Eof): every write end is closed",
        "send -> Err(broken pipe: the receiving end is closed in every process, so nobody can read this)",
        "raw pipe: wrote \"a\", \"b\", \"c\"; one read got \"abc\"",
        "framed: an empty message comes back as []",
        "framed: three sends come back as three messages: [\"a\", \"b\", \"c\"]",
        "and came back intact: true",
        "  it should have been 100000 bytes of 'A': intact: false",
        "both delivered every message: true",
    ] {
        assert!(
            run.stdout.contains(fact),
            "missing `{fact}` in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
