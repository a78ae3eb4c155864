//! Lesson 01 from the outside: it refuses arguments, and a whole run prints
//! its key facts and leaves no process behind. The lesson forks, so it runs
//! as its own binary in its own process group, never inside this test.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-01-threads-vs-processes");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["--fast"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "fib(34) = 5702887  pid=",
            "Every task ran in this process (pid=",
            "The pool forked 2 worker processes.",
            "Distinct pids that ran tasks: 2",
            "All of them pool workers: true",
            "): false",
            "Best speedup for these tasks taken in order by 2 workers: ",
            "both ends share one CPU",
            "10 threads x 100ms of waiting: ",
        ],
        Duration::from_secs(5),
    );
    assert_eq!(run.stderr, "");
    // Each result appears three times: serial, threads, processes.
    assert_eq!(run.stdout.matches("= 5702887").count(), 3);
}
