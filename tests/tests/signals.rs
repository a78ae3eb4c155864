//! Nothing is left behind: each lesson is
//! stopped at a few points of its run, by Ctrl-C (SIGINT to its process
//! group, as a terminal sends it), by SIGTERM or by SIGKILL to its main
//! process, and within a second no process of it may remain, and no socket
//! or directory in its private TMPDIR.
//!
//! The test process is a child subreaper, so the lesson's orphans become its
//! children: they are reaped here, and counted while they live.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use harness::runner::members_of_group;
use harness::workspace::{self, Binaries, Lesson};

fn built() -> &'static (Vec<Lesson>, Binaries) {
    static BUILT: OnceLock<(Vec<Lesson>, Binaries)> = OnceLock::new();
    BUILT.get_or_init(|| {
        harness::runner::become_subreaper();
        let lessons = workspace::lessons().expect("cargo metadata");
        let binaries = workspace::build(&lessons, false).expect("building the lessons");
        (lessons, binaries)
    })
}

/// The ways a lesson is stopped from outside.
#[derive(Clone, Copy, Debug)]
enum Stop {
    CtrlC,
    Term,
    Kill,
}

/// Starts `binary`, stops it `after` its start, and returns what is left a
/// second later: live processes of its group, and files in its TMPDIR.
fn leftovers(binary: &Path, stop: Stop, after: Duration, tmp: &Path) -> (Vec<i32>, Vec<PathBuf>) {
    std::fs::create_dir_all(tmp).unwrap();
    let mut child = Command::new(binary)
        .env("TMPDIR", tmp)
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let group = i32::try_from(child.id()).unwrap();
    std::thread::sleep(after);
    let (target, signal) = match stop {
        Stop::CtrlC => (-group, libc::SIGINT),
        Stop::Term => (group, libc::SIGTERM),
        Stop::Kill => (group, libc::SIGKILL),
    };
    // Safety: kill takes plain integers; a negative pid names the group.
    unsafe { libc::kill(target, signal) };
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(1);
    let (mut alive, mut files) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        // Reap what has ended (orphans are ours: we are a subreaper).
        // Safety: waitpid with a null status pointer and WNOHANG only reaps.
        while unsafe { libc::waitpid(-group, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
        alive = members_of_group(group)
            .into_iter()
            .filter(|&pid| !is_zombie(pid))
            .collect();
        files = std::fs::read_dir(tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if alive.is_empty() && files.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Whatever the verdict, leave nothing running and nothing on disk.
    // Safety: as above.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    std::thread::sleep(Duration::from_millis(50));
    // Safety: as above.
    while unsafe { libc::waitpid(-group, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    let _ = std::fs::remove_dir_all(tmp);
    (alive, files)
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rfind(')')?;
            stat[after + 2..].chars().next()
        })
        .is_none_or(|state| state == 'Z')
}

/// When to stop each lesson, in ms after its start: three points of its run
/// by default; `COURSE_SIGNAL_DELAYS=100,200,...` sweeps more by hand.
fn delays() -> Vec<u64> {
    std::env::var("COURSE_SIGNAL_DELAYS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|d| d.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![300, 900, 1500])
}

fn check(name: &str) {
    check_at(name, &delays());
}

/// As [`check`], stopping the lesson at each of `delays` (ms after start).
fn check_at(name: &str, delays: &[u64]) {
    let (lessons, binaries) = built();
    let lesson = lessons.iter().find(|l| l.name == name).expect("lesson");
    let binary = &binaries
        .iter()
        .find(|(n, _)| *n == lesson.package)
        .expect("binary")
        .1;
    let mut failures = Vec::new();
    for (n, stop) in [Stop::CtrlC, Stop::Term, Stop::Kill]
        .into_iter()
        .enumerate()
    {
        for (m, &after) in delays.iter().enumerate() {
            let tmp = std::env::temp_dir().join(format!(
                "course-signals-{}-{name}-{n}{m}",
                std::process::id()
            ));
            let (alive, files) = leftovers(binary, stop, Duration::from_millis(after), &tmp);
            if !alive.is_empty() || !files.is_empty() {
                failures.push(format!(
                    "{stop:?} after {after} ms: left running {alive:?}, left on disk {files:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "lesson {name}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn lesson_01_leaves_nothing() {
    check("01-threads-vs-processes");
}

#[test]
fn lesson_02_leaves_nothing() {
    check("02-fork");
}

#[test]
fn lesson_03_leaves_nothing() {
    check("03-pool-imap");
}

#[test]
fn lesson_04_leaves_nothing() {
    check("04-queue");
}

#[test]
fn lesson_05_leaves_nothing() {
    check("05-pipe");
}

#[test]
fn lesson_06_leaves_nothing() {
    check("06-manager-dict");
}

#[test]
fn lesson_07_leaves_nothing() {
    check("07-shared-memory");
}

#[test]
fn lesson_08_leaves_nothing() {
    // Its run is longer: stop it in its Redis sections too.
    let mut at = delays();
    at.extend([2500, 3200]);
    check_at("08-beyond-one-machine", &at);
    // Its hosts' network namespaces, and the veth pair between them, went
    // with their processes: no link of theirs is left in this namespace.
    let links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("lsn"))
                .collect()
        })
        .unwrap_or_default();
    assert!(links.is_empty(), "lesson 08 left links: {links:?}");
}
