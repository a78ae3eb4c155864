//! Runs one lesson binary the way verify needs it: its own process group,
//! stdin null, a timeout that kills the whole group, and a check that the
//! group is empty once the lesson has exited. [`run_with`] adds the
//! conditions the exercises are graded under: pinned to one CPU, at a low
//! priority, with limits on output and on processes.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What one run of a lesson did.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or `-N` if signal N ended it (Python's convention).
    pub exit: i32,
    /// Everything it wrote to stdout (up to the output limit).
    pub stdout: String,
    /// Everything it wrote to stderr (up to the output limit).
    pub stderr: String,
    /// It was still running at the timeout, and its group was killed.
    pub timed_out: bool,
    /// Pids still in its process group after it exited (killed since).
    pub leaked: Vec<i32>,
    /// Those of `leaked` that were zombies: exited, never waited for.
    pub zombies: Vec<i32>,
    /// It wrote more than [`Conditions::max_output`] bytes to one stream,
    /// and its group was killed.
    pub flooded: bool,
    /// Its group grew past [`Conditions::max_processes`] processes, and was
    /// killed: the count seen.
    pub too_many_processes: Option<usize>,
    /// Wall-clock time from start to exit.
    pub elapsed: Duration,
    /// The timeout it ran under.
    pub timeout: Duration,
}

/// The conditions of one run beyond its timeout. The default is what
/// verify uses: no pinning, no change of priority, no limits.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    /// Pin the process (and so every process it starts) to this CPU.
    pub cpu: Option<usize>,
    /// Add this to its niceness (19: the lowest priority there is).
    pub nice: i32,
    /// Kill the group once one stream has carried this many bytes.
    pub max_output: Option<usize>,
    /// Kill the group once it holds more processes than this. Checked every
    /// few milliseconds, and also set as `RLIMIT_NPROC`, which the kernel
    /// enforces for users other than root.
    pub max_processes: Option<usize>,
    /// Environment variables to set for it.
    pub env: Vec<(String, String)>,
    /// Stop one of its processes for a while (`SIGSTOP`, then `SIGCONT`).
    pub pause: Option<Pause>,
}

/// A pause of one process of a run: `after` the run's first child
/// appears, its first child (by pid) still there is stopped with `SIGSTOP`
/// for `length`, then continued. A program that never forks is not paused:
/// stopping a whole program stops every clock it could be wrong about. A program that waits for what
/// it needs passes whatever the pause; one that guesses how long something
/// takes fails when the pause is longer than its guess.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// From the first child's appearance to the stop.
    pub after: Duration,
    /// How long the process stays stopped.
    pub length: Duration,
}

/// The process group of the run in progress (0: none), for the signal
/// handler of [`kill_running_group_on_interrupt`].
static RUNNING_GROUP: AtomicI32 = AtomicI32::new(0);

/// On Ctrl-C, `SIGTERM` or `SIGHUP`, kills the process group of the run in
/// progress before this process dies of the signal. Without it, Ctrl-C
/// would end this process only: a run has its own process group, which is
/// not the terminal's foreground group, so a hung run would go on.
pub fn kill_running_group_on_interrupt() {
    extern "C" fn on_signal(signal: libc::c_int) {
        let group = RUNNING_GROUP.load(Ordering::SeqCst);
        if group > 0 {
            // Safety: kill is async-signal-safe and takes plain integers.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        // Safety: signal and raise are async-signal-safe; this restores the
        // default action and dies of the same signal, as without a handler.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
        // Safety: as above.
        unsafe { libc::raise(signal) };
    }
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // Safety: `on_signal` only makes async-signal-safe calls and reads
        // an atomic; installing it changes only this process's handlers.
        unsafe {
            libc::signal(
                signal,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
}

/// Makes this process the reaper of orphans from its descendants, so a child
/// that a lesson leaves behind becomes ours to find, kill and reap, instead of
/// a zombie of some unknown init.
pub fn become_subreaper() {
    // Safety: PR_SET_CHILD_SUBREAPER takes one integer argument and changes
    // only this process's own attribute.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

/// Runs `binary` with `args` under `timeout`.
///
/// # Errors
/// The error of starting `binary` or of waiting for it.
pub fn run(binary: &Path, args: &[String], timeout: Duration) -> std::io::Result<Run> {
    run_with(binary, args, timeout, &Conditions::default())
}

/// Runs `binary` with `args` under `timeout` and `conditions`.
///
/// # Errors
/// The error of starting `binary` or of waiting for it.
pub fn run_with(
    binary: &Path,
    args: &[String],
    timeout: Duration,
    conditions: &Conditions,
) -> std::io::Result<Run> {
    become_subreaper();
    let start = Instant::now();
    let mut command = Command::new(binary);
    command
        .args(args)
        .stdin(Stdio::null())
        // A backtrace would change what a panicking child prints.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .envs(conditions.env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, whose id is its pid: one kill reaches every process
        // it forks (unless one of them leaves the group on purpose).
        .process_group(0);
    // RLIMIT_NPROC counts every process of this user, so the child's limit
    // is what runs now plus its allowance (read here: the child may not
    // allocate between fork and exec).
    let nproc_limit = conditions
        .max_processes
        .map(|max| (max + count_user_processes()) as libc::rlim_t);
    let (cpu, nice) = (conditions.cpu, conditions.nice);
    // Safety: the closure runs in the forked child before exec and makes
    // only async-signal-safe system calls (sched_setaffinity, setpriority,
    // setrlimit); it allocates nothing and takes no lock.
    unsafe { command.pre_exec(move || apply_in_child(cpu, nice, nproc_limit)) };
    let mut child = command.spawn()?;
    let group = child.id() as i32;
    RUNNING_GROUP.store(group, Ordering::SeqCst);
    let flood = Arc::new(AtomicBool::new(false));
    let limit = conditions.max_output.unwrap_or(usize::MAX);
    let stdout = read_in_background(child.stdout.take().expect("piped"), limit, flood.clone());
    let stderr = read_in_background(child.stderr.take().expect("piped"), limit, flood.clone());

    let watch = Watch {
        deadline: start + timeout,
        flood: &flood,
        max_processes: conditions.max_processes,
        pause: conditions.pause,
    };
    let ended = wait_or_kill_group(&mut child, &watch)?;
    let elapsed = start.elapsed();

    let leaked = members_of_group(group);
    let zombies = leaked
        .iter()
        .copied()
        .filter(|&pid| state_of(pid) == Some('Z'))
        .collect();
    if !leaked.is_empty() {
        kill_group(group);
    }
    reap_group(group);
    RUNNING_GROUP.store(0, Ordering::SeqCst);

    // Every writer is gone now, so both pipes reach end of stream; a process
    // that left the group on purpose could still hold them, hence the bound.
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(Duration::from_secs(5))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|_| "<output pipe still held open 5 s after the lesson exited>".into())
    };
    Ok(Run {
        exit: ended.exit,
        stdout: collect(stdout),
        stderr: collect(stderr),
        timed_out: ended.timed_out,
        leaked,
        zombies,
        flooded: flood.load(Ordering::Relaxed),
        too_many_processes: ended.too_many_processes,
        elapsed,
        timeout,
    })
}

/// In the child, between fork and exec: pin, lower the priority, limit the
/// number of processes.
fn apply_in_child(
    cpu: Option<usize>,
    nice: i32,
    nproc_limit: Option<libc::rlim_t>,
) -> std::io::Result<()> {
    if let Some(cpu) = cpu {
        // Safety: a zeroed cpu_set_t is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // Safety: CPU_SET writes one bit of this valid local set (an index
        // past the set is ignored).
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // Safety: pid 0 is this process; `set` is valid for its whole size.
        let rc =
            unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    if nice != 0 {
        // Safety: setpriority takes plain integers and changes only this
        // process (and what it starts from now on).
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    if let Some(limit) = nproc_limit {
        let rlimit = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // Safety: setrlimit reads the local struct and changes only this
        // process's limit. Root is exempt from it; the watch covers root.
        unsafe { libc::setrlimit(libc::RLIMIT_NPROC, &raw const rlimit) };
    }
    Ok(())
}

/// How many threads this user runs now: what `RLIMIT_NPROC` counts on
/// Linux.
fn count_user_processes() -> usize {
    // Safety: getuid cannot fail and has no arguments.
    let uid = unsafe { libc::getuid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name().to_str()?.parse::<i32>().ok()?;
            let status = std::fs::read_to_string(e.path().join("status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            let real: u32 = line.split_whitespace().nth(1)?.parse().ok()?;
            if real != uid {
                return None;
            }
            let threads = status.lines().find(|l| l.starts_with("Threads:"))?;
            threads.split_whitespace().nth(1)?.parse::<usize>().ok()
        })
        .sum()
}

struct Watch<'a> {
    deadline: Instant,
    flood: &'a AtomicBool,
    max_processes: Option<usize>,
    pause: Option<Pause>,
}

/// Where a run's [`Pause`] stands.
enum Pausing {
    /// Waiting for the moment to stop a process (`at`, once known).
    Before {
        at: Option<Instant>,
    },
    /// `pid` is stopped until `until`.
    Stopped {
        pid: i32,
        until: Instant,
    },
    Done,
}

impl Pausing {
    /// Moves the pause on, given the run's `group` leader and the time.
    fn step(&mut self, pause: Pause, group: i32, now: Instant) {
        match *self {
            Pausing::Before { at } => {
                let members = members_of_group(group);
                let children: Vec<i32> = members.iter().copied().filter(|&p| p != group).collect();
                let at = match at {
                    Some(at) => at,
                    None if !children.is_empty() => now + pause.after,
                    None => return,
                };
                if now < at {
                    *self = Pausing::Before { at: Some(at) };
                    return;
                }
                // The first child: the one the program started first (in
                // the exercises, the child whose end the parent waits for).
                // Gone already: nothing to pause.
                let Some(&pid) = children.first() else {
                    *self = Pausing::Done;
                    return;
                };
                // Safety: kill takes plain integers; `pid` is a member of
                // the run's group, which only this runner reaps.
                unsafe { libc::kill(pid, libc::SIGSTOP) };
                *self = Pausing::Stopped {
                    pid,
                    until: now + pause.length,
                };
            }
            Pausing::Stopped { pid, until } if now >= until => {
                // Safety: as above.
                unsafe { libc::kill(pid, libc::SIGCONT) };
                *self = Pausing::Done;
            }
            Pausing::Stopped { .. } | Pausing::Done => {}
        }
    }

    /// Continues a process still stopped (the run is ending).
    fn finish(&mut self) {
        if let Pausing::Stopped { pid, .. } = *self {
            // Safety: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        }
        *self = Pausing::Done;
    }
}

struct Ended {
    exit: i32,
    timed_out: bool,
    too_many_processes: Option<usize>,
}

/// Waits for `child` (the leader of its own process group) until the
/// watch's deadline, then kills the whole group; kills it sooner if it
/// floods its output or grows past its process limit.
fn wait_or_kill_group(child: &mut Child, watch: &Watch) -> std::io::Result<Ended> {
    let group = i32::try_from(child.id()).expect("a pid fits in i32");
    let mut ended = Ended {
        exit: 0,
        timed_out: false,
        too_many_processes: None,
    };
    let started = Instant::now();
    let mut next_count = started;
    let mut pausing = Pausing::Before { at: None };
    let status = loop {
        if let Some(status) = child.try_wait()? {
            pausing.finish();
            break status;
        }
        let now = Instant::now();
        if let Some(pause) = watch.pause {
            pausing.step(pause, group, now);
        }
        let over_limit = match watch.max_processes {
            Some(max) if now >= next_count => {
                next_count = now + Duration::from_millis(20);
                Some(members_of_group(group).len()).filter(|&n| n > max)
            }
            _ => None,
        };
        if now >= watch.deadline || watch.flood.load(Ordering::Relaxed) || over_limit.is_some() {
            ended.timed_out = now >= watch.deadline;
            ended.too_many_processes = over_limit;
            kill_group(group);
            pausing.finish();
            break child.wait()?;
        }
        // Finer while a pause waits for its moment.
        let waiting_to_pause = watch.pause.is_some() && matches!(pausing, Pausing::Before { .. });
        thread::sleep(Duration::from_millis(if waiting_to_pause { 1 } else { 5 }));
    };
    ended.exit = status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0));
    Ok(ended)
}

/// Runs `binary` on this terminal (stdout and stderr inherited, stdin
/// null), in its own process group, and kills the group if it runs past
/// `timeout`: `cargo xtask run`. Returns its exit status.
///
/// # Errors
/// A message if it cannot be started, or if it was killed at the timeout.
pub fn run_attached(binary: &Path, timeout: Duration) -> Result<i32, String> {
    let mut child = Command::new(binary)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    RUNNING_GROUP.store(child.id() as i32, Ordering::SeqCst);
    let never = AtomicBool::new(false);
    let watch = Watch {
        deadline: Instant::now() + timeout,
        flood: &never,
        max_processes: None,
        pause: None,
    };
    let ended = wait_or_kill_group(&mut child, &watch).map_err(|e| e.to_string());
    RUNNING_GROUP.store(0, Ordering::SeqCst);
    let ended = ended?;
    if ended.timed_out {
        return Err(format!(
            "still running after {timeout:?}: its process group was killed"
        ));
    }
    Ok(ended.exit)
}

/// Reads `pipe` to its end on a thread, keeping at most `limit` bytes; past
/// that it raises `flood` and stops reading (the group is killed then).
fn read_in_background(
    mut pipe: impl Read + Send + 'static,
    limit: usize,
    flood: Arc<AtomicBool>,
) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let room = limit.saturating_sub(bytes.len());
                    bytes.extend_from_slice(&chunk[..n.min(room)]);
                    if n > room {
                        flood.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(bytes);
    });
    rx
}

fn kill_group(group: i32) {
    // Safety: kill takes plain integers; a negative pid names a process group.
    unsafe { libc::kill(-group, libc::SIGKILL) };
}

/// The pids whose process group is `group`, read from `/proc/*/stat`: the
/// processes a lesson left running (or as zombies) after it exited.
pub fn members_of_group(group: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| process_group_of(pid) == Some(group))
        .collect();
    pids.sort();
    pids
}

fn process_group_of(pid: i32) -> Option<i32> {
    stat_field(pid, 2)?.parse().ok()
}

/// A process's state letter from `/proc/PID/stat` (`Z`: a zombie).
fn state_of(pid: i32) -> Option<char> {
    stat_field(pid, 0)?.chars().next()
}

/// Field `n` after the command name in `/proc/PID/stat` (0: state, 1: ppid,
/// 2: pgrp).
fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after it.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(n).map(str::to_string)
}

/// Waits (briefly) for every member of `group` that became our child (we are
/// a subreaper) so none stays a zombie.
fn reap_group(group: i32) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        // Safety: waitpid with a null status pointer and WNOHANG only reaps.
        let pid = unsafe { libc::waitpid(-group, std::ptr::null_mut(), libc::WNOHANG) };
        if pid > 0 {
            continue;
        }
        if pid < 0 || members_of_group(group).is_empty() {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
