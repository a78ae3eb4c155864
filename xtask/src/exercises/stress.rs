//! The conditions an exercise is run under after its first passing run.
//! A race is a program that is right on some schedules and wrong on
//! others; one idle run tries one schedule. These conditions try others:
//! the CPUs taken by busy loops, everything on one CPU, and that one CPU
//! shared with a busy loop at the lowest priority, where a process waits
//! hundreds of milliseconds for its turn (as on an overloaded server), and
//! one process stopped for seconds (as a debugger, a `Ctrl-Z`, a swapped-out
//! or migrated VM stops it): longer than any fixed guess of how long
//! something takes, so only a program that waits for what it needs passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use harness::runner::{Conditions, Pause};

/// A number in `0..bound` that differs from run to run (the clock's
/// nanoseconds: the stress needs variety, not unpredictability).
fn random_below(bound: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos.wrapping_mul(2_654_435_761) % bound.max(1)
}

/// One way of running an exercise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// As it is: whatever else the machine is doing.
    Idle,
    /// A busy loop on every CPU this process may use.
    Busy,
    /// Pinned to one CPU, with nothing else on it.
    Pinned,
    /// Pinned to one CPU at the lowest priority (nice 19), beside a busy
    /// loop: it gets about 1.5% of that CPU.
    Starved,
    /// Its first child process stopped with `SIGSTOP` for 3 to 5 s, soon
    /// after it starts (a program that never forks runs as in idle).
    Stopped,
}

/// The stress runs, in order: each mode early, then again.
pub const STRESS: [Mode; 20] = {
    use Mode::{Busy, Idle, Pinned, Starved, Stopped};
    [
        Starved, Stopped, Pinned, Busy, Idle, //
        Starved, Pinned, Busy, Idle, Idle, //
        Starved, Stopped, Pinned, Busy, Idle, //
        Starved, Pinned, Busy, Idle, Idle,
    ]
};

/// How long a stopped run's process stays stopped: at least this, plus up
/// to [`STOP_SPREAD`].
pub const STOP_LENGTH: Duration = Duration::from_secs(3);
pub const STOP_SPREAD: Duration = Duration::from_secs(2);

/// A run may write at most this much to each of stdout and stderr.
pub const MAX_OUTPUT: usize = 1 << 20;
/// A run may have at most this many processes at once.
pub const MAX_PROCESSES: usize = 64;
/// A starved run gets this many times the golden's timeout.
pub const STARVED_SLOWDOWN: u32 = 5;

impl Mode {
    /// A few words for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Idle => "idle",
            Mode::Busy => "busy (a busy loop on every CPU)",
            Mode::Pinned => "pinned (all on one CPU)",
            Mode::Starved => "starved (one CPU, lowest priority, beside a busy loop)",
            Mode::Stopped => "stopped (one process paused with SIGSTOP for 3 to 5 s)",
        }
    }

    /// One word for tables.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Idle => "idle",
            Mode::Busy => "busy",
            Mode::Pinned => "pinned",
            Mode::Starved => "starved",
            Mode::Stopped => "stopped",
        }
    }

    /// The runner's conditions for this mode (limits included).
    pub fn conditions(self) -> Conditions {
        let one_cpu = allowed_cpus().last().copied();
        Conditions {
            cpu: match self {
                Mode::Pinned | Mode::Starved => one_cpu,
                Mode::Idle | Mode::Busy | Mode::Stopped => None,
            },
            nice: if self == Mode::Starved { 19 } else { 0 },
            max_output: Some(MAX_OUTPUT),
            max_processes: Some(MAX_PROCESSES),
            env: Vec::new(),
            pause: (self == Mode::Stopped).then(|| Pause {
                // Within 5 ms of the first child's start: while it works.
                after: Duration::from_micros(u64::from(random_below(5_000))),
                length: STOP_LENGTH
                    + Duration::from_millis(u64::from(
                        random_below(STOP_SPREAD.as_millis() as u32),
                    )),
            }),
        }
    }

    /// The timeout of a run in this mode, from the golden's.
    pub fn timeout(self, golden: Duration) -> Duration {
        match self {
            Mode::Starved => golden * STARVED_SLOWDOWN,
            Mode::Stopped => golden + STOP_LENGTH + STOP_SPREAD,
            _ => golden,
        }
    }

    /// Starts the busy loops this mode needs (none for idle and pinned);
    /// they stop when the returned value is dropped.
    pub fn load(self) -> Option<BusyLoops> {
        matches!(self, Mode::Busy | Mode::Starved).then(BusyLoops::start)
    }
}

/// One spinning thread per CPU, each pinned to its CPU.
pub struct BusyLoops {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl BusyLoops {
    fn start() -> BusyLoops {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = allowed_cpus()
            .into_iter()
            .map(|cpu| {
                let stop = stop.clone();
                thread::spawn(move || {
                    pin_this_thread(cpu);
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        BusyLoops { stop, threads }
    }
}

impl Drop for BusyLoops {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // Safety: a zeroed cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // Safety: pid 0 is this thread; `set` is valid for its whole size.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    if rc != 0 {
        return vec![0];
    }
    (0..libc::CPU_SETSIZE as usize)
        // Safety: `set` is initialised and `cpu` is within its size.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

fn pin_this_thread(cpu: usize) {
    // Safety: a zeroed cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // Safety: CPU_SET writes one bit of this valid local set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // Safety: pid 0 is the calling thread; `set` is valid for its size.
    unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stress_runs_use_every_mode_and_start_with_the_harshest() {
        assert_eq!(STRESS[0], Mode::Starved);
        for mode in [Mode::Idle, Mode::Busy, Mode::Pinned, Mode::Starved] {
            assert!(
                STRESS.iter().filter(|m| **m == mode).count() >= 4,
                "{mode:?}"
            );
        }
        assert_eq!(STRESS.iter().filter(|m| **m == Mode::Stopped).count(), 2);
        assert!(Mode::Stopped.conditions().pause.is_some());
        assert!(Mode::Idle.conditions().pause.is_none());
    }

    #[test]
    fn pinned_and_starved_runs_name_one_allowed_cpu_and_starved_is_niced() {
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        let starved = Mode::Starved.conditions();
        assert!(cpus.contains(&starved.cpu.unwrap()));
        assert_eq!(starved.nice, 19);
        assert_eq!(Mode::Busy.conditions().cpu, None);
        assert_eq!(Mode::Idle.conditions().max_processes, Some(MAX_PROCESSES));
    }
}
