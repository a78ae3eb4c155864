//! Lesson 06 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process, socket or
//! directory behind.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-06-manager-dict");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    Command::new(BINARY)
        .arg("dict")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "this lesson takes no arguments, but got: dict",
        ))
        .stderr(predicate::str::contains(
            "usage: cargo run -p lesson-06-manager-dict",
        ));
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_nothing_behind() {
    let run = xtask::runner::run(Path::new(BINARY), &[], Duration::from_secs(60)).unwrap();
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    assert_eq!(run.stderr, "");
    for fact in [
        "the parent sees: [(\"aa\", 12), (\"bb\", 13)]",
        "with fork:  d = [(\"bb\", 13)], the argument's dict = []",
        "with spawn: the child's exitcode is 3",
        "  below 2000: updates were lost: true",
        "exactly 2000: true",
        "the dict still holds:     [1, 2, 3]",
        "after d.set(\"list\", local): [1, 2, 3, 4]",
        "socket: manager.sock in a directory of its own, mode 700",
        "the server exited with 0 and was reaped: true",
        "socket gone: true, directory gone: true",
        "a proxy now: Err(the manager is gone)",
    ] {
        assert!(
            run.stdout.contains(fact),
            "missing `{fact}` in:\n{}",
            run.stdout
        );
    }
    assert_eq!(run.stdout.matches("exactly 2000: true").count(), 2);
    assert!(
        run.elapsed < Duration::from_secs(5),
        "took {:?}",
        run.elapsed
    );
}
