//! Lesson 07 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 5 seconds, and leaves nothing behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-07-shared-memory");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["lock"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_nothing_behind() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "the child's add reached the parent: through the static false, through the Value true",
            "fewer than 2000: updates were lost: true",
            "every slot holds its square: true",
            "acquire: Err(HolderDied): the last holder died holding the lock",
            "the next acquire is an ordinary Ok: true",
            "never more than the seats, and the seats were all used: true",
            "the parent reads: \"answered by the child\"",
            "mappings of files in /dev/shm in this process: 0",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stderr, "");
    assert_eq!(run.stdout.matches("exactly").count(), 3);
    assert!(!run.stdout.contains(": false"), "every checked claim holds");
}
