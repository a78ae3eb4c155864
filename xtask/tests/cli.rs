//! `cargo xtask` from the outside: help, usage errors (exit 2), bless's
//! refusal in CI, and verify failing on an edited golden in a temporary folder.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

fn xtask() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.timeout(Duration::from_secs(300)).env_remove("CI");
    command
}

#[test]
fn help_lists_the_commands() {
    for args in [
        &["--help"][..],
        &["help"],
        &["verify", "--help"],
        &["bless", "-h"],
        &["check", "--help"],
        &["hint", "-h"],
        &["progress", "--help"],
        &["watch", "--help"],
    ] {
        xtask()
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("cargo xtask"));
    }
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage: cargo xtask <COMMAND>"),
        (&["frobnicate"], "unknown command `frobnicate`"),
        (&["verify", "--fast"], "unknown option `--fast`"),
        (
            &["verify", "--repeat", "0"],
            "`--repeat` takes a whole number above 0, not `0`",
        ),
        (&["verify", "--repeat"], "`--repeat` needs a value"),
        (
            &["verify", "99"],
            "no lesson named `99`; the lessons are: 01-threads-vs-processes, 02-fork, 03-pool-imap, 04-queue, 05-pipe, 06-manager-dict, 07-shared-memory",
        ),
        (&["list", "extra"], "list takes no arguments"),
        (&["run", "01", "01"], "run takes at most one lesson"),
        (&["compare", "01", "02"], "compare takes at most one lesson"),
        (&["compare", "99"], "no lesson named `99`"),
        (
            &["bench", "--samples", "0"],
            "`--samples` takes a whole number above 0, not `0`",
        ),
        (
            &["verify", "--goldens", "/no/such/dir"],
            "--goldens /no/such/dir: no such directory",
        ),
        (&["bench", "--quick=yes"], "`--quick` takes no value"),
        (
            &["check", "9.9"],
            "no exercise named `9.9`; the exercises are: 01.1, 01.2",
        ),
        (&["check", "--fast"], "unknown option `--fast`"),
        (
            &["check", "--all", "02.1"],
            "give exercises or --all, not both",
        ),
        (&["hint", "02.1", "02.2"], "hint takes at most one exercise"),
        (&["progress", "extra"], "progress takes no arguments"),
        (&["watch", "02.1"], "watch takes no arguments"),
        (
            &["bench", "warp-speed"],
            "no figure named `warp-speed`; the figures are: fork, spawn",
        ),
    ];
    for (args, message) in cases {
        xtask()
            .args(*args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*message));
    }
}

#[test]
fn list_names_each_lesson_with_its_python_counterpart() {
    xtask()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("01-threads-vs-processes"))
        .stdout(predicate::str::contains("Python: concurrent.futures"))
        .stdout(predicate::str::contains(
            "cargo run -p lesson-01-threads-vs-processes",
        ));
}

#[test]
fn bless_refuses_in_ci() {
    xtask()
        .args(["bless", "01"])
        .env("CI", "true")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "bless refuses to run when CI is set",
        ));
}

#[test]
fn verify_fails_on_an_edited_golden_and_says_where() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let real = root.join("lessons/01-threads-vs-processes/golden.stdout");
    let text = std::fs::read_to_string(&real).unwrap();
    let dir = std::env::temp_dir().join(format!("xtask-cli-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("01-threads-vs-processes")).unwrap();
    std::fs::write(
        dir.join("01-threads-vs-processes/golden.stdout"),
        text.replace(
            "The pool forked 2 worker processes.",
            "The pool forked 3 worker processes.",
        ),
    )
    .unwrap();
    xtask()
        .args(["verify", "01", "--goldens"])
        .arg(&dir)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "FAIL  lesson 01-threads-vs-processes: stdout: output line",
        ))
        .stdout(predicate::str::contains("does not match golden line"))
        .stdout(predicate::str::contains(
            "-The pool forked 3 worker processes.",
        ))
        .stdout(predicate::str::contains("0 passed, 1 failed"));
    // The real golden was never touched, and still passes.
    assert_eq!(std::fs::read_to_string(&real).unwrap(), text);
    xtask()
        .args(["verify", "01"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 passed, 0 failed"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hint_prints_the_exercise_hint_and_what_a_hang_means() {
    xtask()
        .args(["hint", "flush-before-fork"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Hint for exercise 02.1 (flush-before-fork)",
        ))
        .stdout(predicate::str::contains("out.flush()"))
        .stdout(predicate::str::contains("When it hangs:"));
}
