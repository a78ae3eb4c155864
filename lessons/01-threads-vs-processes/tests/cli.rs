//! Lesson 01 from the outside: it refuses arguments, and a whole run prints
//! its key facts and leaves no process behind. The lesson forks, so it runs
//! as its own binary in its own process group, never inside this test.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-01-threads-vs-processes");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    Command::new(BINARY)
        .arg("--fast")
        .timeout(Duration::from_secs(10))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "this lesson takes no arguments, but got: --fast",
        ))
        .stderr(predicate::str::contains(
            "usage: cargo run -p lesson-01-threads-vs-processes",
        ));
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = xtask::runner::run(Path::new(BINARY), &[], Duration::from_secs(60)).unwrap();
    assert_eq!((run.exit, run.timed_out), (0, false), "{run:?}");
    assert!(run.leaked.is_empty(), "left behind: {:?}", run.leaked);
    assert_eq!(run.stderr, "");
    let facts = [
        "fib(34) = 5702887  pid=",
        "Every task ran in this process (pid=",
        "The pool forked 2 worker processes.",
        "Distinct pids that ran tasks: 2",
        "All of them pool workers: true",
        "): false",
        "Best speedup for these tasks taken in order by 2 workers: ",
        "Both ends pinned to one CPU",
        "10 threads x 100ms of waiting: ",
    ];
    for fact in facts {
        assert!(
            predicate::str::contains(fact).eval(&run.stdout),
            "missing `{fact}` in:\n{}",
            run.stdout
        );
    }
    // Each of the five results appears three times: serial, threads, processes.
    assert_eq!(run.stdout.matches("= 5702887").count(), 3);
}
