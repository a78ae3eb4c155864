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
