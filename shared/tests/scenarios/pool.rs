//! Pool: errors as values, a killed worker, result orders, join rules, and
//! a child forked later that must not keep the workers alive.

use std::time::{Duration, Instant};

use multiproc::{Error, Pool, Process, TaskError};

use crate::sleep_ms;

fn panics_on_three(x: u32) -> u32 {
    if x == 3 {
        panic!("three is not allowed");
    }
    x * 10
}

pub fn a_panicking_task_gives_its_message() {
    let pool = Pool::new(2).unwrap();
    let handles: Vec<_> = (1..=5)
        .map(|x| pool.apply_async(panics_on_three, x).unwrap())
        .collect();
    for (x, handle) in (1..=5).zip(&handles) {
        match (x, handle.get()) {
            (3, Err(TaskError::Panicked(message))) => {
                assert!(
                    message.starts_with("three is not allowed at "),
                    "the message, then the location: {message}"
                );
                assert!(
                    message.contains("pool.rs:"),
                    "the location is named: {message}"
                );
            }
            (x, outcome) => assert_eq!(outcome.unwrap(), x * 10),
        }
    }
    let chunked: Vec<String> = pool
        .imap(panics_on_three, 1..=5, 2)
        .unwrap()
        .map(|r| match r {
            Ok(v) => v.to_string(),
            Err(TaskError::Panicked(_)) => "panicked".into(),
            Err(e) => format!("{e}"),
        })
        .collect();
    assert_eq!(
        chunked,
        ["10", "20", "panicked", "40", "50"],
        "one item fails, not its chunk"
    );
    assert_eq!(pool.map(panics_on_three, [1, 2], 1).unwrap(), [10, 20]);
    let failed = pool.map(panics_on_three, [1, 3], 1).unwrap_err();
    assert!(
        matches!(failed, Error::Task(TaskError::Panicked(_))),
        "{failed:?}"
    );
    assert!(
        std::error::Error::source(&failed).is_some(),
        "map keeps the task error as source"
    );
    let slow = pool.apply_async(sleep_ms, 500).unwrap();
    assert!(!slow.ready());
    assert!(matches!(
        slow.get_timeout(Duration::from_millis(100)),
        Err(TaskError::Timeout)
    ));
    assert_eq!(slow.get().unwrap(), 500);
    pool.close();
    assert_eq!(
        pool.apply_async(sleep_ms, 1).err().unwrap().to_string(),
        "the pool is closed: no new tasks (Python raises ValueError: Pool not running)"
    );
    pool.join().unwrap();
}

fn kill_myself(_: ()) {
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
}

pub fn a_killed_worker_fails_its_task_and_is_replaced() {
    let pool = Pool::new(1).unwrap();
    let before = pool.worker_pids();
    // Killed from outside while it runs a long task.
    let long = pool.apply_async(sleep_ms, 10_000).unwrap();
    let queued = pool.apply_async(sleep_ms, 1).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let victim = nix::unistd::Pid::from_raw(before[0]);
    nix::sys::signal::kill(victim, nix::sys::signal::Signal::SIGKILL).unwrap();
    let started = Instant::now();
    let outcome = long.get();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "noticed within 1 s"
    );
    let died = outcome.unwrap_err();
    assert!(
        matches!(died, TaskError::WorkerDied { pid, exitcode: -9 } if pid == before[0]),
        "{died:?}"
    );
    assert_eq!(
        died.to_string(),
        format!(
            "worker pid={} died (signal 9) while running the task",
            before[0]
        )
    );
    assert_eq!(queued.get().unwrap(), 1, "the queued task still ran");
    let after = pool.worker_pids();
    assert!(
        after.len() == 1 && after[0] != before[0],
        "replaced: {before:?} -> {after:?}"
    );
    // A task that kills its own worker.
    let suicide = pool
        .apply_async(kill_myself, ())
        .unwrap()
        .get()
        .unwrap_err();
    assert!(suicide.to_string().contains("signal 9"), "{suicide}");
    assert_eq!(
        pool.apply_async(sleep_ms, 2).unwrap().get().unwrap(),
        2,
        "still serving"
    );
}

pub fn imap_keeps_submission_order_and_imap_unordered_does_not() {
    let pool = Pool::new(3).unwrap();
    let ordered: Vec<u64> = pool
        .imap(sleep_ms, [300, 500, 100], 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ordered, [300, 500, 100]);
    let unordered: Vec<u64> = pool
        .imap_unordered(sleep_ms, [300, 500, 100], 1)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(unordered, [100, 300, 500]);
    let squares = pool.map(|x: u64| x * x, 0..10, 3).unwrap();
    assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    let many: u64 = pool
        .imap_unordered(|x: u64| x, 0..1000, 7)
        .unwrap()
        .map(Result::unwrap)
        .sum();
    assert_eq!(many, 499_500);
    assert_eq!(
        pool.imap(sleep_ms, [1], 0).err().unwrap().to_string(),
        "chunksize must be at least 1"
    );
}

pub fn join_is_refused_before_close() {
    let pool = Pool::new(1).unwrap();
    assert_eq!(
        pool.join().unwrap_err().to_string(),
        "Pool::join called before Pool::close: close the pool first (Python raises \
         ValueError: Pool is still running)"
    );
    pool.close();
    pool.join().unwrap();
}

pub fn a_later_child_does_not_keep_workers_alive() {
    let pool = Pool::new(2).unwrap();
    // A child forked after the pool inherits copies of the pool's descriptors;
    // it must close them, or the workers never see end of stream.
    let mut late = Process::start(|| std::thread::sleep(Duration::from_secs(3))).unwrap();
    pool.close();
    let started = Instant::now();
    pool.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "joined while a later child lives"
    );
    late.kill().unwrap();
    late.join().unwrap();
}
