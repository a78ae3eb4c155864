//! Lesson 08 from the outside: it refuses arguments, and a whole run prints
//! its key facts, in under 10 seconds, and leaves nothing behind.

use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_lesson-08-beyond-one-machine");

#[test]
fn an_argument_gets_a_usage_message_and_exit_2() {
    harness::lesson_cli::refuses_arguments(BINARY, env!("CARGO_PKG_NAME"), &["redis"]);
}

#[test]
fn a_run_prints_the_key_facts_and_leaves_nothing_behind() {
    let mut facts = vec![
        "host B with a wrong key: refused: true",
        "host B: q.get(timeout=1s) -> the manager did not answer: true",
        "task 1 is gone: every other task came out once, and it never will: true",
    ];
    if harness::verify::on_path("redis-server") {
        facts.extend([
            "  task 1 was lost (at most once): true",
            "  every task has its result (at least once): true; task 1 ran twice: true",
            "HINCRBY, in the server: n = 2000, exactly 2000: true",
        ]);
    } else {
        facts.push("Sections 4 and 5 need Redis: redis-server is not installed");
    }
    let run = harness::lesson_cli::run_prints(BINARY, &facts, Duration::from_secs(10));
    assert_eq!(
        run.stderr,
        "multiproc manager: refused a client with the wrong authkey\n"
    );
    assert!(!run.stdout.contains(": false"), "every checked claim holds");
}

/// As root the hosts are network namespaces; a learner who is not root gets
/// the loopback form. Run it as `nobody` too, and check it against the
/// same golden file (CI runs as root, so this is where that form is seen).
#[test]
fn the_loopback_form_passes_the_golden_as_another_user() {
    let root = nix::unistd::geteuid().is_root();
    let setpriv = std::path::Path::new("/usr/bin/setpriv");
    if !root || !setpriv.exists() {
        eprintln!("skipped: needs root and setpriv to run the lesson as nobody");
        return;
    }
    let goldens = harness::verify::Goldens::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .expect("the golden files");
    let args: Vec<String> = [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        BINARY,
    ]
    .map(String::from)
    .to_vec();
    let run = harness::runner::run(setpriv, &args, Duration::from_secs(60)).expect("setpriv");
    assert!(
        run.stdout.contains("hosts: this machine's loopback"),
        "not the loopback form:\n{}",
        run.stdout
    );
    if let Err(failure) = harness::verify::check_run("lesson 08 as nobody", &goldens, run) {
        panic!("{failure}");
    }
}
