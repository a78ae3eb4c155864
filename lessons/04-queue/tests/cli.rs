//! Lesson 04 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-04-queue");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["4"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
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
            "sorted: [0, 1, 4, 9]",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stderr, "");
}
