//! A lesson piped into `head` ends quietly : killed
//! by SIGPIPE like any Unix program, or exit 0, never a panic message.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::workspace;

#[test]
fn every_lesson_ends_quietly_when_its_reader_goes() {
    let lessons = workspace::lessons().expect("cargo metadata");
    let binaries = workspace::build(&lessons, false).expect("building the lessons");
    for lesson in &lessons {
        let binary = &binaries
            .iter()
            .find(|(n, _)| *n == lesson.package)
            .expect("binary")
            .1;
        let mut child = Command::new(binary)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let group = i32::try_from(child.id()).unwrap();
        // `head -3`: read three lines, then go.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        for _ in 0..3 {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
        }
        drop(stdout);
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{} did not end", lesson.name);
            std::thread::sleep(Duration::from_millis(20));
        };
        // Safety: kill takes plain integers; a negative pid names the group.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            status.signal() == Some(libc::SIGPIPE) || status.code() == Some(0),
            "{}: {status:?}\n{stderr}",
            lesson.name
        );
        assert!(!stderr.contains("panicked"), "{}:\n{stderr}", lesson.name);
    }
}
