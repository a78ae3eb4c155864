//! Lesson 06 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process, socket or
//! directory behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-06-manager-dict");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["dict"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_nothing_behind() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "the parent sees: [(\"aa\", 12), (\"bb\", 13)]",
            "with fork:  d = [(\"bb\", 13)], the argument's dict = []",
            "with spawn: the child's exitcode is 3",
            "  below 2000: updates were lost: true",
            "the dict still holds:     [1, 2, 3]",
            "after d.set(\"list\", local): [1, 2, 3, 4]",
            "socket: manager.sock in a directory of its own, mode 700",
            "the server exited with 0 and was reaped: true",
            "socket gone: true, directory gone: true",
            "a proxy now: Err(the manager is gone (",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout.matches("exactly 2000: true").count(), 2);
}
