//! Process: exit codes, join with a deadline, the Run trait, fork refused
//! while threaded, the spawn start method, Drop.

use std::time::{Duration, Instant};

use multiproc::{Error, Pool, Process, Run};

use crate::{ms_since, sleep_ms};

pub fn exitcodes_follow_pythons_convention() {
    let mut normal = Process::start(|| {}).unwrap();
    let mut seven = Process::start_with_code(|| 7).unwrap();
    let mut panics = Process::start(|| panic!("on purpose")).unwrap();
    let mut killed = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    killed.kill().unwrap();
    let mut terminated = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    terminated.terminate().unwrap();
    assert_eq!(normal.exitcode(), None, "no exitcode before join");
    for (child, expected) in [
        (&mut normal, 0),
        (&mut seven, 7),
        (&mut panics, 1),
        (&mut killed, -9),
        (&mut terminated, -15),
    ] {
        assert_eq!(child.join().unwrap(), expected);
        assert_eq!(child.exitcode(), Some(expected));
        assert!(!child.is_alive());
    }
}

pub fn join_timeout_returns_by_its_deadline() {
    let mut sleeper = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    assert!(sleeper.is_alive());
    let started = Instant::now();
    assert_eq!(
        sleeper.join_timeout(Duration::from_millis(300)).unwrap(),
        None
    );
    let waited = ms_since(started);
    assert!(
        (290..2000).contains(&waited),
        "join_timeout(300ms) took {waited}ms"
    );
    sleeper.kill().unwrap();
    let started = Instant::now();
    assert_eq!(
        sleeper.join_timeout(Duration::from_secs(5)).unwrap(),
        Some(-9)
    );
    assert!(
        ms_since(started) < 2000,
        "took {}ms after kill",
        ms_since(started)
    );
}

struct ExitWithFib {
    n: u32,
}

impl Run for ExitWithFib {
    fn run(&mut self) {
        // The child's own check: a wrong answer ends it with status 1.
        assert_eq!(fib(self.n), 55);
    }
}

fn fib(n: u32) -> u64 {
    if n <= 2 { 1 } else { fib(n - 1) + fib(n - 2) }
}

pub fn the_run_trait_runs_in_a_child() {
    let mut child = ExitWithFib { n: 10 }.start().unwrap();
    assert_ne!(child.pid(), i32::try_from(std::process::id()).unwrap());
    assert_eq!(child.join().unwrap(), 0);
}

pub fn fork_is_refused_while_threads_exist() {
    let (stop, wait) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let _ = wait.recv();
    });
    let refused = Process::start(|| {}).unwrap_err();
    assert!(
        matches!(refused, Error::Multithreaded { threads: 2 }),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .starts_with("refusing to fork: this process has 2 threads."),
        "{refused}"
    );
    assert!(matches!(
        Pool::new(1),
        Err(Error::Multithreaded { threads: 2 })
    ));
    // Spawn is the start method that works here.
    let mut spawned = Process::spawn(child_of, std::process::id()).unwrap();
    assert_eq!(spawned.join().unwrap(), 0, "spawn while multithreaded");
    drop(stop);
    thread.join().unwrap();
    let mut forked = Process::start(|| {}).unwrap();
    assert_eq!(forked.join().unwrap(), 0, "fork after the thread is joined");
}

/// A spawned child's check that its parent is `parent`; 13 panics on purpose.
fn child_of(parent: u32) {
    if parent == 13 {
        panic!("unlucky");
    }
    assert_eq!(nix::unistd::getppid().as_raw().cast_unsigned(), parent);
    let known = multiproc::parent_process().expect("a spawned child knows its parent");
    assert_eq!(known.pid().cast_unsigned(), parent);
    assert!(known.is_alive());
}

pub fn spawn_runs_the_function_in_a_fresh_program() {
    let mut child = Process::spawn(child_of, std::process::id()).unwrap();
    assert_eq!(child.join().unwrap(), 0);
    let mut panics = Process::spawn(child_of, 13).unwrap();
    assert_eq!(
        panics.join().unwrap(),
        1,
        "a panic in a spawned child is exit 1"
    );
    let mut slow = Process::spawn(sleep_then_exit, 200).unwrap();
    assert_eq!(slow.join_timeout(Duration::from_millis(50)).unwrap(), None);
    assert_eq!(slow.join_timeout(Duration::from_secs(5)).unwrap(), Some(0));
}

fn sleep_then_exit(ms: u64) {
    sleep_ms(ms);
}

/// In a spawned child whose `main` forgot `init()` (see `main`): spawning
/// again must be refused, not fork-bomb. Exits 3 on the expected refusal.
pub fn spawned_without_init() -> ! {
    let again = Process::spawn(child_of, 0);
    let refusal = again.unwrap_err().to_string();
    let expected = "this is a spawned child that did not call multiproc::init() at the top of \
                    main, so it is running main again; add the call (Python's `if __name__ == \
                    '__main__':`)";
    std::process::exit(if refusal == expected { 3 } else { 4 });
}

pub fn a_spawned_child_without_init_is_refused() {
    // Safety: single-threaded here; the variable is read by the child.
    unsafe { std::env::set_var("SCENARIO_SKIP_INIT", "1") };
    let mut child = Process::spawn(child_of, 1).unwrap();
    assert_eq!(
        child.join().unwrap(),
        3,
        "3: refused as expected; 4: another message"
    );
}

pub fn dropping_a_running_process_kills_and_reaps_it() {
    let child = Process::start(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
    let pid = child.pid();
    drop(child);
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_err(),
        "pid {pid} still exists after drop"
    );
}

/// `Duration::MAX` means "as long as
/// it takes", never a panic.
pub fn duration_max_is_no_deadline() {
    let queue: multiproc::Queue<u32> = multiproc::Queue::new(0).unwrap();
    queue.put_timeout(&5, Duration::MAX).unwrap();
    assert_eq!(queue.get_timeout(Duration::MAX).unwrap(), 5);
    let mut child = Process::start(|| {}).unwrap();
    assert_eq!(child.join_timeout(Duration::MAX).unwrap(), Some(0));
    let (a, mut b) = multiproc::Pipe::duplex().unwrap();
    b.send(&1u8).unwrap();
    assert!(a.poll(Some(Duration::MAX)).unwrap());
    let pool = Pool::new(1).unwrap();
    let task = pool.apply_async(sleep_ms, 1).unwrap();
    assert_eq!(task.get_timeout(Duration::MAX).unwrap(), 1);
}

/// A child that forked a helper and returned is seen as ended at
/// once, though the helper holds the sentinel pipe (a pidfd says so).
pub fn join_sees_a_child_end_whatever_its_helpers_hold() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let mut child = Process::start(|| {
        let helper = Process::start_daemon(|| std::thread::sleep(Duration::from_secs(2))).unwrap();
        std::mem::forget(helper);
    })
    .unwrap();
    let started = Instant::now();
    assert_eq!(child.join_timeout(Duration::from_secs(5)).unwrap(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    // The helper, a daemon, died with its parent; reap it here.
    let helper = nix::sys::wait::waitpid(None, None).unwrap();
    assert!(
        matches!(
            helper,
            nix::sys::wait::WaitStatus::Signaled(..) | nix::sys::wait::WaitStatus::Exited(_, 1)
        ),
        "{helper:?}"
    );
}

/// A daemon child dies with its parent, even a parent killed
/// with SIGKILL; Python's daemons die only when the parent exits normally.
pub fn a_daemon_dies_with_its_parent() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    let (mut recv_end, mut send_end) = multiproc::Pipe::one_way().unwrap();
    let mut middle = Process::start(|| {
        let daemon = Process::start_daemon(|| std::thread::sleep(Duration::from_secs(30))).unwrap();
        send_end.send(&daemon.pid()).unwrap();
        std::mem::forget(daemon);
        std::thread::sleep(Duration::from_secs(30));
    })
    .unwrap();
    let daemon: i32 = recv_end.recv().unwrap();
    middle.kill().unwrap();
    middle.join().unwrap();
    let started = Instant::now();
    let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(daemon), None).unwrap();
    // Killed with its parent; or, if the parent died before the daemon had
    // asked to be, gone by itself at once (exit 1).
    assert!(
        matches!(
            status,
            nix::sys::wait::WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGKILL, _)
                | nix::sys::wait::WaitStatus::Exited(_, 1)
        ),
        "{status:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// `parent_process()`: none in the first process; in a child, the pid that
/// started it, alive until it dies, and gone for good once it has, even
/// though the orphan's new parent (this subreaper) is alive.
pub fn an_orphan_sees_its_parent_gone() {
    nix::sys::prctl::set_child_subreaper(true).unwrap();
    assert!(multiproc::parent_process().is_none());
    let (mut recv_end, mut send_end) = multiproc::Pipe::one_way().unwrap();
    let mut middle = Process::start(|| {
        let me = nix::unistd::getpid().as_raw();
        let orphan = Process::start(move || {
            let parent = multiproc::parent_process().expect("forked by the crate");
            let before = (parent.pid() == me, parent.is_alive());
            // The middle process exits 200 ms after the fork; wait for that.
            let deadline = Instant::now() + Duration::from_secs(5);
            while parent.is_alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            send_end.send(&(before, parent.is_alive())).unwrap();
        })
        .unwrap();
        std::mem::forget(orphan);
        // Long past the orphan's first look at its parent.
        std::thread::sleep(Duration::from_millis(200));
    })
    .unwrap();
    assert_eq!(middle.join().unwrap(), 0);
    let seen: ((bool, bool), bool) = recv_end.recv().unwrap();
    assert_eq!(
        seen,
        ((true, true), false),
        "(pid right, alive), then alive"
    );
    // The orphan is this process's child now: reap it.
    let _ = nix::sys::wait::wait();
}

fn takes_bytes(bytes: Vec<u8>) {
    assert!(!bytes.is_empty());
}

/// The spawn start method hands its argument over in a file, not in the
/// environment, so no size limit of the kernel's applies (1 MiB here); a
/// Queue bound past what the queue counts gets a message that says why.
pub fn sizes_the_kernel_refuses_are_explained() {
    let mut big = Process::spawn(takes_bytes, vec![1u8; 1 << 20]).unwrap();
    assert_eq!(big.join().unwrap(), 0, "a 1 MiB argument reaches the child");
    let refused = multiproc::Queue::<u8>::new(usize::try_from(i32::MAX).unwrap() + 1).unwrap_err();
    assert!(
        refused.to_string().contains("maxsize is too large"),
        "{refused}"
    );
}

/// A child that someone else reaped (here `SIGCHLD` is ignored, so the
/// kernel reaps it), whose pid then went to a stranger: the handle must
/// say the child is gone, and neither `terminate`, `kill`, `join` nor drop
/// may touch the stranger. The stranger gets the pid through
/// `/proc/sys/kernel/ns_last_pid` (root only; skipped otherwise).
pub fn a_reaped_childs_pid_reused_by_a_stranger_is_left_alone() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // Safety: SIG_IGN installs no handler code.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.unwrap();
    let mut child = Process::start(|| {}).unwrap();
    let pid = child.pid();
    let gone = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < gone, "the kernel did not reap pid {pid}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let Some(mut stranger) = process_with_pid(pid) else {
        // Safety: as above.
        unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.unwrap();
        crate::skip("cannot choose a pid here (needs root and ns_last_pid)");
    };
    let stranger_alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
    };
    assert!(stranger_alive(), "the stranger runs with pid {pid}");
    assert!(
        !child.is_alive(),
        "the child is gone, whoever has its pid now"
    );
    child.terminate().unwrap();
    child.kill().unwrap();
    let started = Instant::now();
    let joined = child.join_timeout(Duration::from_secs(1));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "join_timeout returned at once"
    );
    assert!(
        matches!(joined, Err(Error::State(why)) if why.contains("reaped by someone else")),
        "{joined:?}"
    );
    drop(child);
    std::thread::sleep(Duration::from_millis(100));
    assert!(stranger_alive(), "no signal reached the stranger");
    // Safety: as above. Restored first, so that the stranger is ours to reap.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigDfl) }.unwrap();
    stranger.kill().unwrap();
    stranger.wait().unwrap();
}

/// Starts `sleep 30` with pid `pid`, if the pid can be chosen here.
fn process_with_pid(pid: i32) -> Option<std::process::Child> {
    for _ in 0..50 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let stranger = std::process::Command::new("sleep").arg("30").spawn().ok()?;
        if stranger.id() == pid as u32 {
            return Some(stranger);
        }
        let mut other = stranger;
        let _ = other.kill();
    }
    None
}
