//! Lesson 02 from the outside: it refuses arguments, and a whole run prints
//! its key facts and leaves no process behind (not even the child it
//! deliberately deadlocks in section 7).

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-02-fork");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["extra", "words"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "child:  COUNTER = 999 at 0x",
            "parent, after the child: COUNTER = 100 at 0x",
            "  \"text printed before fork\" appeared 2 time(s)",
            "  \"text printed before fork\" appeared 1 time(s)",
            "/stat says state Z",
            "killed by SIGKILL:  exitcode -9",
            "forked child sees COUNTER = 5",
            "spawned child sees COUNTER = 100",
            "parent: after 500ms the child is still waiting: true",
            "multiproc's Process::start refuses: refusing to fork: this process has 3 threads.",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stdout.lines().filter(|l| *l == "hi").count(), 2);
    assert!(
        run.stderr.contains("a panic in the child"),
        "{}",
        run.stderr
    );
}
