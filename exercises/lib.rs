//! What the exercises share: a way to give a process real CPU work.
//!
//! An exercise whose processes only sleep would hide the races this course
//! wants you to find: sleeping costs no CPU, so a busy machine does not
//! slow it. [`work_for`] burns CPU time instead, as real work does.

use std::time::Duration;

use nix::time::{ClockId, clock_gettime};

/// Keeps this thread busy until it has used `cpu` of CPU time. On an idle
/// machine that takes `cpu` of wall-clock time too; on a busy one, longer.
/// Python: a loop of arithmetic, e.g. `sum(range(200_000))`.
pub fn work_for(cpu: Duration) {
    let used = || {
        let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
            .expect("every Linux thread has a CPU-time clock");
        Duration::from(now)
    };
    let until = used() + cpu;
    let mut x = 0u64;
    while used() < until {
        for i in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
}

/// Notes that `row` (a worker) did `label` from `start_ns` to `end_ns` (on
/// `CLOCK_MONOTONIC`), for the grader: when a stress run fails, `cargo
/// xtask check` draws these spans as that run's schedule, so that a race is
/// seen as the interleaving that lost. Does nothing outside the grader.
/// One `write(2)` per span to a file opened for appending, so spans from
/// several processes never tear.
pub fn schedule_span(row: &str, label: &str, start_ns: u64, end_ns: u64) {
    use std::io::Write;
    let Some(path) = std::env::var_os("COURSE_SPANS") else {
        return;
    };
    let line = format!("{row}\t{label}\t{start_ns}\t{end_ns}\n");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}
