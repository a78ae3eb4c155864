//! Runs one lesson binary the way verify needs it: its own process group,
//! stdin null, a timeout that kills the whole group, and a check that the
//! group is empty once the lesson has exited.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What one run of a lesson did.
#[derive(Debug)]
pub struct Run {
    /// The exit status, or `-N` if signal N ended it (Python's convention).
    pub exit: i32,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// It was still running at the timeout, and its group was killed.
    pub timed_out: bool,
    /// Pids still in its process group after it exited (killed since).
    pub leaked: Vec<i32>,
    /// Wall-clock time from start to exit.
    pub elapsed: Duration,
    /// The timeout it ran under.
    pub timeout: Duration,
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
    become_subreaper();
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        // A backtrace would change what a panicking child prints.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, whose id is its pid: one kill reaches every process
        // it forks (unless one of them leaves the group on purpose).
        .process_group(0)
        .spawn()?;
    let group = child.id() as i32;
    let stdout = read_in_background(child.stdout.take().expect("piped"));
    let stderr = read_in_background(child.stderr.take().expect("piped"));

    let (exit, timed_out) = wait_or_kill_group(&mut child, start + timeout)?;
    let elapsed = start.elapsed();

    let leaked = members_of_group(group);
    if !leaked.is_empty() {
        kill_group(group);
    }
    reap_group(group);

    // Every writer is gone now, so both pipes reach end of stream; a process
    // that left the group on purpose could still hold them, hence the bound.
    let collect = |rx: mpsc::Receiver<Vec<u8>>| {
        rx.recv_timeout(Duration::from_secs(5))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_else(|_| "<output pipe still held open 5 s after the lesson exited>".into())
    };
    Ok(Run {
        exit,
        stdout: collect(stdout),
        stderr: collect(stderr),
        timed_out,
        leaked,
        elapsed,
        timeout,
    })
}

/// Waits for `child` (the leader of its own process group) until
/// `deadline`, then kills the whole group. Returns its exit status (`-N` for
/// signal N) and whether it had to be killed.
fn wait_or_kill_group(child: &mut Child, deadline: Instant) -> std::io::Result<(i32, bool)> {
    let group = i32::try_from(child.id()).expect("a pid fits in i32");
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group(group);
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let exit = status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0));
    Ok((exit, timed_out))
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
    let (exit, timed_out) =
        wait_or_kill_group(&mut child, Instant::now() + timeout).map_err(|e| e.to_string())?;
    if timed_out {
        return Err(format!(
            "still running after {timeout:?}: its process group was killed"
        ));
    }
    Ok(exit)
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after it.
    let after_name = &stat[stat.rfind(')')? + 2..];
    // Fields after the name: state, ppid, pgrp.
    after_name.split(' ').nth(2)?.parse().ok()
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
