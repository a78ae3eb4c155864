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
    assert!(matches!(failed, TaskError::Panicked(_)), "{failed:?}");
    let refused = pool.map(panics_on_three, [1], 0).unwrap_err();
    assert!(
        matches!(&refused, TaskError::Pool(cause) if matches!(**cause, Error::State(_))),
        "a refused map keeps its cause: {refused:?}"
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

fn echo(bytes: Vec<u8>) -> Vec<u8> {
    bytes
}

/// A queued task's argument and a
/// running task's result, each larger than a socket buffer, deadlocked the
/// parent's write against the worker's.
pub fn large_arguments_and_results_never_deadlock() {
    let one = Pool::new(1).unwrap();
    let echoed = one.map(echo, vec![vec![7u8; 256 << 10]; 2], 1).unwrap();
    assert_eq!(echoed, vec![vec![7u8; 256 << 10]; 2]);
    let two = Pool::new(2).unwrap();
    let sizes = [0, 1, 4000, 5000, 300_000, 3 << 20, 100, 1 << 20];
    let handles: Vec<_> = sizes
        .iter()
        .map(|&n| two.apply_async(echo, vec![1u8; n]).unwrap())
        .collect();
    let streamed: Vec<usize> = two
        .imap(echo, sizes.iter().map(|&n| vec![2u8; n]), 1)
        .unwrap()
        .map(|r| r.unwrap().len())
        .collect();
    assert_eq!(streamed, sizes);
    for (handle, n) in handles.iter().zip(sizes) {
        assert_eq!(handle.get().unwrap(), vec![1u8; n]);
    }
}

/// The next task goes to the first free worker, as in CPython: with two
/// workers and naps of 500, 300 and 100 ms, the 100 ms task starts when the
/// 300 ms one ends, and is done at about 400 ms, before the 500 ms one.
pub fn the_next_task_goes_to_the_first_free_worker() {
    let pool = Pool::new(2).unwrap();
    let started = Instant::now();
    let mut finished = Vec::new();
    for nap in pool.imap_unordered(sleep_ms, [500, 300, 100], 1).unwrap() {
        finished.push((nap.unwrap(), started.elapsed()));
    }
    let order: Vec<u64> = finished.iter().map(|(nap, _)| *nap).collect();
    assert_eq!(order, [300, 100, 500], "{finished:?}");
    assert!(
        finished[1].1 < Duration::from_millis(480),
        "100 ms task done at {:?}",
        finished[1].1
    );
}

/// An argument over the frame limit is refused at once, and the
/// workers are left alone.
pub fn an_oversize_argument_is_refused_at_submit() {
    let pool = Pool::new(1).unwrap();
    let before = pool.worker_pids();
    let refused = pool.apply_async(echo, vec![0u8; multiproc::wire::MAX_FRAME + 1]);
    assert!(
        matches!(
            refused,
            Err(Error::Wire(multiproc::WireError::TooLargeToSend { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(pool.apply_async(sleep_ms, 1).unwrap().get().unwrap(), 1);
    assert_eq!(pool.worker_pids(), before, "no worker was replaced");
}

/// `imap` reads its input as it goes: an endless input streams.
pub fn imap_streams_an_endless_input() {
    let pool = Pool::new(2).unwrap();
    let squares: Vec<u64> = pool
        .imap(|x: u64| x * x, 0u64.., 1)
        .unwrap()
        .take(2000)
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares.len(), 2000);
    assert_eq!(squares[1999], 1999 * 1999);
}

fn fork_a_helper_then_die(_: ()) {
    let worker = nix::unistd::getpid();
    let helper = Process::start(move || {
        // Dies with the worker that forked it: nothing is left behind (and
        // if the worker is already gone, it leaves at once).
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        if nix::unistd::getppid() == worker {
            std::thread::sleep(Duration::from_secs(6));
        }
    })
    .unwrap();
    std::mem::forget(helper);
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL).unwrap();
}

/// A helper the task forked holds the worker's socket open; the
/// worker's death is seen through its pidfd all the same.
pub fn a_worker_death_is_seen_even_if_a_helper_holds_its_socket() {
    // The orphaned helper is ours to reap: no zombie is left behind.
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let pool = Pool::new(1).unwrap();
    let started = Instant::now();
    let died = pool.apply_async(fork_a_helper_then_die, ()).unwrap().get();
    assert!(
        matches!(died, Err(TaskError::WorkerDied { exitcode: -9, .. })),
        "{died:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "seen after {:?}",
        started.elapsed()
    );
    drop(pool);
    // Every other child is reaped: what is left is the helper, killed with
    // its worker, or gone by itself if the worker died before it looked.
    let helper = nix::sys::wait::waitpid(None, None).unwrap();
    assert!(
        matches!(
            helper,
            nix::sys::wait::WaitStatus::Signaled(..) | nix::sys::wait::WaitStatus::Exited(_, 0)
        ),
        "{helper:?}"
    );
}

fn ignore_sigterm_and_sleep(ms: u64) -> u64 {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // Safety: SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGTERM, SigHandler::SigIgn) }.unwrap();
    sleep_ms(ms)
}

/// Terminate escalates to SIGKILL for a task that ignores
/// SIGTERM.
pub fn terminate_does_not_wait_for_a_task_that_ignores_sigterm() {
    let pool = Pool::new(1).unwrap();
    let worker = pool.worker_pids()[0];
    let task = pool.apply_async(ignore_sigterm_and_sleep, 10_000).unwrap();
    let queued = pool.apply_async(ignore_sigterm_and_sleep, 1).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    pool.terminate();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    // The running task did run: it is not told it never ran.
    let running = task.get();
    assert!(
        matches!(running, Err(TaskError::Terminated { pid }) if pid == worker),
        "{running:?}"
    );
    let waiting = queued.get();
    assert!(
        matches!(&waiting, Err(TaskError::PoolGone(_)))
            && waiting.unwrap_err().to_string().contains("never ran"),
        "the queued one never ran"
    );
}

/// A forked child that inherited the pool gets an error, and the
/// parent's workers are untouched.
pub fn a_child_cannot_use_an_inherited_pool() {
    let pool = Pool::new(1).unwrap();
    let before = pool.worker_pids();
    let mut child = Process::start(|| {
        let refused = pool.apply_async(sleep_ms, 1).err().unwrap();
        assert!(
            refused
                .to_string()
                .contains("belongs to the process that made it"),
            "{refused}"
        );
    })
    .unwrap();
    assert_eq!(child.join().unwrap(), 0);
    // The same from a child forked without the crate, straight through libc.
    // Safety: this process has one thread (the scenario runs alone); the
    // child only asks the pool, then leaves through `_exit`.
    match unsafe { nix::unistd::fork() }.unwrap() {
        nix::unistd::ForkResult::Child => {
            let refused = pool.apply_async(sleep_ms, 1).is_err();
            // Safety: `_exit` takes an integer and never returns.
            unsafe { libc::_exit(if refused { 0 } else { 1 }) };
        }
        nix::unistd::ForkResult::Parent { child } => {
            let status = nix::sys::wait::waitpid(child, None).unwrap();
            assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
        }
    }
    assert_eq!(pool.apply_async(sleep_ms, 3).unwrap().get().unwrap(), 3);
    assert_eq!(pool.worker_pids(), before);
}

fn too_large_a_result(_: ()) -> Vec<u8> {
    vec![0u8; multiproc::wire::MAX_FRAME + 1]
}

/// A result over the frame limit is an error that says so, not
/// a "dead" worker; the worker goes on.
pub fn an_oversize_result_is_an_error_not_a_death() {
    let pool = Pool::new(1).unwrap();
    let before = pool.worker_pids();
    let outcome = pool.apply_async(too_large_a_result, ()).unwrap().get();
    let Err(TaskError::Panicked(message)) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(message.contains("cannot be sent back"), "{message}");
    assert_eq!(pool.worker_pids(), before, "the worker was not replaced");
}

/// An `imap` whose input has an item that cannot be queued: the results
/// before it arrive, then its error, then the end.
pub fn imap_yields_what_came_before_a_failing_item() {
    let pool = Pool::new(2).unwrap();
    let items = [
        vec![1u8; 10],
        vec![2u8; 10],
        vec![0u8; multiproc::wire::MAX_FRAME + 1],
        vec![3u8; 10],
    ];
    let outcomes: Vec<_> = pool.imap(echo, items, 1).unwrap().collect();
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert_eq!(outcomes[0].as_ref().unwrap().len(), 10);
    assert_eq!(outcomes[1].as_ref().unwrap()[0], 2);
    assert!(
        matches!(outcomes[2], Err(TaskError::Pool(_))),
        "{:?}",
        outcomes[2].as_ref().err()
    );
}

/// `imap` reads its input as the results are taken: none at the call, and
/// a slow input asked about between its items, not read to the end first
/// (64 chunks per worker at most ahead of the results). Counted: a
/// slow input would otherwise wait for hundreds of items before its first
/// result.
pub fn imap_reads_its_input_as_the_results_are_taken() {
    use std::cell::Cell;
    let pool = Pool::new(2).unwrap();
    let pulled = Cell::new(0u32);
    let slow_input = (0..40u64).inspect(|_| {
        pulled.set(pulled.get() + 1);
        std::thread::sleep(Duration::from_millis(5));
    });
    let mut results = pool.imap(|x: u64| x + 1, slow_input, 1).unwrap();
    assert_eq!(pulled.get(), 0, "nothing is read at the call");
    assert_eq!(results.next().unwrap().unwrap(), 1);
    let before_first = pulled.get();
    assert!(
        (1..=8).contains(&before_first),
        "a few slow items before the first result, not the whole input: {before_first} \
         of 40 read"
    );
    let rest: Vec<u64> = results.map(Result::unwrap).collect();
    assert_eq!(rest, (2..=40).collect::<Vec<u64>>());
    // An input that panics at its sixth item: the five results before it
    // come first, as in CPython (which raises after yielding them).
    let got = std::cell::RefCell::new(Vec::new());
    let yielded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let failing = (0..10u64).map(|x| if x == 5 { panic!("item 5 is bad") } else { x });
        for result in pool.imap(|x: u64| x, failing, 1).unwrap() {
            got.borrow_mut().push(result.unwrap());
        }
    }));
    assert!(yielded.is_err(), "the input's panic reaches the caller");
    let got = got.into_inner();
    assert_eq!(
        got,
        [0, 1, 2, 3, 4],
        "the results before the bad item come first"
    );
}

/// How many times the kernel has put `pid` on a CPU (the third field of
/// `/proc/PID/schedstat`): 0 for a process that has not run yet.
fn times_scheduled(pid: i32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/schedstat"))
        .expect("reading /proc/PID/schedstat");
    text.split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("schedstat has three numbers")
}

/// On one CPU the parent runs on after each fork, and a pool that returned
/// at once would hand out its first tasks before its workers had run: the
/// pool waits until each says it runs.
pub fn every_worker_runs_before_the_pool_is_returned() {
    let one_cpu = {
        let mut set = nix::sched::CpuSet::new();
        let allowed = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
        let first = (0..nix::sched::CpuSet::count())
            .find(|&cpu| allowed.is_set(cpu).unwrap_or(false))
            .expect("some CPU is allowed");
        set.set(first).unwrap();
        set
    };
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &one_cpu).unwrap();
    for round in 0..20 {
        let pool = Pool::new(4).unwrap();
        for pid in pool.worker_pids() {
            assert!(
                times_scheduled(pid) > 0,
                "round {round}: worker {pid} had not run when Pool::new returned"
            );
        }
        pool.terminate();
    }
}
