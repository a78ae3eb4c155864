//! Lesson 04 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process behind.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-04-queue");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    Command::new(BINARY)
        .arg("4")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "this lesson takes no arguments, but got: 4",
        ))
        .stderr(predicate::str::contains(
            "usage: cargo run -p lesson-04-queue",
        ));
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = xtask::runner::run(Path::new(BINARY), &[], Duration::from_secs(60)).unwrap();
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    assert_eq!(run.stderr, "");
    for fact in [
        "parent: COUNTER = 0",
        "parent: recv_timeout(500ms) gave Err(Timeout) after ",
        "consumer get: a",
        "parent: 500ms later the queue holds 3 items; taking one",
        "parent: then got [2, 3, 4], in the order they were put",
        "put_nowait on a full queue: Full, after ",
        "get(timeout=300ms) on an empty queue: Empty, after ",
        "distinct items: 4000 of 4000",
        "each producer's items in order at each consumer: true",
        "join(timeout=500ms): the child is still alive, blocked in put",
        "join: exitcode 0",
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
