//! Lesson 03 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 10 seconds, and leaves no process behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-03-pool-imap");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["-x"]);
}

#[test]
fn help_says_what_the_lesson_is_and_where_its_readme_is() {
    for flag in ["--help", "-h"] {
        let output = std::process::Command::new(BINARY)
            .arg(flag)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{flag}: {output:?}");
        assert!(
            stdout.contains("cargo run -p lesson-03-pool-imap"),
            "{stdout}"
        );
        assert!(
            stdout.contains("lessons/03-pool-imap/README.md"),
            "{stdout}"
        );
    }
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_no_process() {
    let run = harness::lesson_cli::run_prints(
        BINARY,
        &[
            "res.get() = Ok(55)",
            "0.1 was done before 0.5 (at 0.4 s, not 0.6 s): true",
            "task 3: Err(the task panicked in its worker: I do not like 3 at",
            "the task's worker died: exitcode -9, and it was one of the pool's: true",
            "the pool forked a replacement: true",
            "and still serves: fib(10) = Ok(55)",
            "join: Err(Pool::join called before Pool::close",
            "the same results: true",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(
        run.stderr, "",
        "worker panics are reported through get(), not printed"
    );
    let results: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("imap -> "))
        .collect();
    assert_eq!(
        results,
        ["imap -> 0.3", "imap -> 0.5", "imap -> 0.1"].repeat(2)
    );
    let unordered: Vec<&str> = run
        .stdout
        .lines()
        // Section 4's lines; section 3's also say when (" at ...").
        .filter(|l| l.starts_with("imap_unordered -> ") && !l.contains(" at "))
        .collect();
    assert_eq!(
        unordered,
        [
            "imap_unordered -> 0.1",
            "imap_unordered -> 0.3",
            "imap_unordered -> 0.5"
        ]
    );
}
