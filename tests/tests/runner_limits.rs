//! The conditions `cargo xtask check` grades exercises under: the runner
//! pins, lowers the priority, and stops a run that floods its output or
//! starts too many processes, leaving nothing behind.

use std::path::Path;
use std::time::{Duration, Instant};

use harness::runner::{self, Conditions, Pause};

fn shell(script: &str, conditions: &Conditions) -> runner::Run {
    runner::run_with(
        Path::new("/bin/sh"),
        &["-c".to_string(), script.to_string()],
        Duration::from_secs(20),
        conditions,
    )
    .expect("sh runs")
}

#[test]
fn a_pinned_niced_run_has_one_cpu_and_niceness_19() {
    let conditions = Conditions {
        cpu: Some(0),
        nice: 19,
        ..Conditions::default()
    };
    let run = shell(
        "grep Cpus_allowed_list /proc/self/status; nice",
        &conditions,
    );
    assert_eq!(run.exit, 0, "{run:?}");
    assert!(
        run.stdout.contains("Cpus_allowed_list:\t0\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.ends_with("\n19\n"), "{}", run.stdout);
}

#[test]
fn a_run_that_floods_stdout_is_stopped_at_the_limit() {
    let conditions = Conditions {
        max_output: Some(64 * 1024),
        ..Conditions::default()
    };
    let started = Instant::now();
    let run = shell("yes flood", &conditions);
    assert!(run.flooded, "{:?}", run.exit);
    assert!(!run.timed_out);
    assert_eq!(run.stdout.len(), 64 * 1024);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(run.leaked.is_empty());
}

#[test]
fn a_run_that_starts_too_many_processes_is_stopped_and_nothing_is_left() {
    let conditions = Conditions {
        max_processes: Some(10),
        ..Conditions::default()
    };
    let started = Instant::now();
    let run = shell("for i in $(seq 200); do sleep 30 & done; wait", &conditions);
    let count = run.too_many_processes.expect("the limit was hit");
    assert!(count > 10, "{count}");
    assert!(!run.timed_out);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Its whole group was killed: none of its 200 sleeps is left.
    let sleeps = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline.as_slice() == b"sleep\x0030\x00")
        .count();
    assert_eq!(sleeps, 0);
}

#[test]
fn an_exited_child_nobody_waited_for_is_reported_as_a_zombie() {
    // The shell execs `sleep`, which inherits an exited child (`true`,
    // started first) that it never waits for: a zombie when sleep exits.
    let run = shell("true & exec sleep 0.3", &Conditions::default());
    assert_eq!(run.exit, 0);
    assert_eq!(run.zombies.len(), 1, "{run:?}");
    assert_eq!(run.zombies, run.leaked);
}

#[test]
fn a_paused_run_stops_its_first_child_for_the_pause_and_continues_it() {
    let conditions = Conditions {
        pause: Some(Pause {
            after: Duration::from_millis(20),
            length: Duration::from_secs(1),
        }),
        ..Conditions::default()
    };
    // A guess: "the child needs 0.3 s". The child, stopped for 1 s, takes
    // longer; `wait` (the right way) still gets it.
    let run = shell(
        "sleep 0.3 & child=$!; sleep 0.6; \
         if kill -0 $child 2>/dev/null; then echo still-running; fi; wait; echo done",
        &conditions,
    );
    assert_eq!(run.stdout, "still-running\ndone\n");
    assert!(
        run.elapsed >= Duration::from_millis(1000),
        "{:?}",
        run.elapsed
    );
    assert!(run.leaked.is_empty() && !run.timed_out);
    // Without the pause, the same guess holds.
    let run = shell(
        "sleep 0.3 & child=$!; sleep 0.6; \
         if kill -0 $child 2>/dev/null; then echo still-running; fi; wait; echo done",
        &Conditions::default(),
    );
    assert_eq!(run.stdout, "done\n");
}
