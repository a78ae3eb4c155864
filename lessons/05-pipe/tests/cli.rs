//! Lesson 05 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves no process behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-05-pipe");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["--verbose"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "consumer get: a (recv waited ",
            "parent sent 4, child sent back 5",
            "  poll -> ready: Err(Eof): every write end is closed",
            "  recv -> Err(Eof): every write end is closed",
            "send -> Err(broken pipe: the receiving end is closed in every process, so nobody can read this)",
            "raw pipe: wrote \"a\", \"b\", \"c\"; one read(2) returned 3 bytes: \"abc\"",
            "framed: an empty message comes back as []",
            "framed: three sends come back as three messages: [\"a\", \"b\", \"c\"]",
            "and came back intact: true",
            "  it should have been 100000 bytes of 'A': intact: false",
            "both delivered every message: true",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stderr, "");
}
