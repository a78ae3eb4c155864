//! `verify` must fail for the right reason: an edited golden line, a lesson
//! that leaves a child running, a lesson that hangs. The fakes are this
//! package's own binaries; edited goldens live in temporary folders, never in
//! the lesson's.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harness::golden;
use harness::runner;
use harness::verify::{self, Goldens};
use harness::workspace;

fn lesson_01() -> (workspace::Lesson, PathBuf) {
    let lessons = workspace::lessons().expect("cargo metadata");
    let lesson = workspace::select(&lessons, &["01".to_string()])
        .unwrap()
        .remove(0);
    let binaries = workspace::build(std::slice::from_ref(&lesson), false).expect("build");
    (lesson, binaries.into_iter().next().unwrap().1)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("course-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Changes one pattern line so that it no longer matches what it matched:
/// its first character outside the holes becomes another.
fn edit_line(line: &str) -> Option<String> {
    let is_hole = |inside: &str| {
        let kind = inside.split(':').next().unwrap_or("");
        matches!(kind, ".." | "PID" | "INT" | "ADDR" | "ELAPSED")
    };
    let mut at = 0;
    while at < line.len() {
        let rest = &line[at..];
        if let Some(inner) = rest.strip_prefix('[')
            && let Some(close) = inner.find(']')
            && is_hole(&inner[..close])
        {
            at += close + 2; // Skip the whole hole.
            continue;
        }
        let c = rest.chars().next()?;
        let other = if c == 'x' { "y" } else { "x" };
        return Some(format!(
            "{}{other}{}",
            &line[..at],
            &line[at + c.len_utf8()..]
        ));
    }
    None
}

#[test]
fn editing_any_non_hole_line_of_lesson_01s_golden_fails_it() {
    let (lesson, binary) = lesson_01();
    let text = std::fs::read_to_string(lesson.golden_stdout(None)).unwrap();
    let golden_file = golden::parse(&text).unwrap();
    let run = runner::run(&binary, &[], Duration::from_secs(60)).unwrap();
    golden::check(&golden_file, &run.stdout).expect("the real golden passes");

    let mut edited_lines = 0;
    for (index, line) in text.lines().enumerate() {
        if line.starts_with("#@") {
            continue;
        }
        let edited = if line.is_empty() {
            "x".to_string()
        } else {
            edit_line(line).expect("every line of lesson 01 has literal text")
        };
        let mut lines: Vec<&str> = text.lines().collect();
        lines[index] = &edited;
        let altered = golden::parse(&(lines.join("\n") + "\n")).unwrap();
        let mismatch = golden::check(&altered, &run.stdout).expect_err(&format!(
            "golden line {} edited to `{edited}` still passed",
            index + 1
        ));
        assert!(
            mismatch.reason.contains("line"),
            "the reason should name a line: {}",
            mismatch.reason
        );
        edited_lines += 1;
    }
    assert!(edited_lines > 50, "only {edited_lines} lines were edited");
}

#[test]
fn verify_names_the_lesson_and_the_line_of_an_edited_golden() {
    let (lesson, binary) = lesson_01();
    let text = std::fs::read_to_string(lesson.golden_stdout(None)).unwrap();
    let dir = temp_dir("edited");
    std::fs::create_dir_all(dir.join(&lesson.name)).unwrap();
    let edited = text.replace(
        "Distinct pids that ran tasks: 2",
        "Distinct pids that ran tasks: 3",
    );
    assert_ne!(edited, text);
    std::fs::write(dir.join(&lesson.name).join("golden.stdout"), edited).unwrap();

    let failure = verify::verify_lesson(&lesson, &binary, Some(&dir)).expect_err("edited golden");
    assert!(
        failure
            .reason
            .starts_with("lesson 01-threads-vs-processes: stdout: output line")
    );
    assert!(
        failure
            .reason
            .contains("`Distinct pids that ran tasks: 2` does not match golden line")
    );
    assert!(
        failure.diff.contains("-Distinct pids that ran tasks: 3"),
        "{}",
        failure.diff
    );
    assert!(
        failure.diff.contains("+Distinct pids that ran tasks: 2"),
        "{}",
        failure.diff
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn goldens_for(stdout: &str) -> Goldens {
    Goldens {
        stdout: golden::parse(stdout).unwrap(),
        stdout_path: Path::new("fake/golden.stdout").to_path_buf(),
        stderr: None,
        stderr_free: false,
    }
}

#[test]
fn a_lesson_that_leaves_a_child_running_fails() {
    let run = runner::run(
        Path::new(env!("CARGO_BIN_EXE_leaky_lesson")),
        &[],
        Duration::from_secs(20),
    )
    .unwrap();
    assert!(!run.timed_out);
    assert_eq!(run.leaked.len(), 1, "{run:?}");
    let failure = verify::check_run(
        "leaky",
        &goldens_for("a lesson that leaves a child behind\n"),
        run,
    )
    .expect_err("a leak must fail");
    assert!(
        failure.reason.contains("leaked a child process"),
        "{}",
        failure.reason
    );
    // The runner killed and reaped it: the group is empty now.
    let group = failure.run.unwrap().leaked[0];
    assert!(runner::members_of_group(group).is_empty());
}

#[test]
fn a_lesson_that_hangs_is_killed_with_its_whole_group_at_the_timeout() {
    let started = Instant::now();
    let run = runner::run(
        Path::new(env!("CARGO_BIN_EXE_stuck_lesson")),
        &[],
        Duration::from_secs(1),
    )
    .unwrap();
    let took = started.elapsed();
    assert!(run.timed_out);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(run.stdout, "a lesson that hangs\n");
    let failure = verify::check_run("stuck", &goldens_for("a lesson that hangs\n"), run)
        .expect_err("a hang must fail");
    assert!(
        failure.reason.contains("did not finish within 1s"),
        "{}",
        failure.reason
    );
}
