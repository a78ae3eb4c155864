//! Every lesson against its golden file, one test per lesson: the same check
//! as `cargo xtask verify`, so `cargo test --workspace` covers it.
//!
//! A package's tests can only name its own binaries, so the lesson binaries
//! are found the way verify finds them: by building them and reading cargo's
//! JSON messages.

use std::sync::OnceLock;

use harness::verify;
use harness::workspace::{self, Binaries, Lesson};

/// The lessons this file tests, one `#[test]` each; the course check below
/// fails if a lesson folder is missing from this list.
const TESTED: &[&str] = &[
    "01-threads-vs-processes",
    "02-fork",
    "03-pool-imap",
    "04-queue",
    "05-pipe",
    "06-manager-dict",
];

fn built() -> &'static (Vec<Lesson>, Binaries) {
    static BUILT: OnceLock<(Vec<Lesson>, Binaries)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lessons = workspace::lessons().expect("cargo metadata");
        let binaries = workspace::build(&lessons, false).expect("building the lessons");
        (lessons, binaries)
    })
}

fn verify(name: &str) {
    let (lessons, binaries) = built();
    let lesson = lessons
        .iter()
        .find(|l| l.name == name)
        .expect("lesson folder");
    let binary = &binaries
        .iter()
        .find(|(n, _)| *n == lesson.package)
        .unwrap()
        .1;
    if let Err(failure) = verify::verify_lesson(lesson, binary, None) {
        panic!("{failure}");
    }
}

#[test]
fn lesson_01_matches_its_golden() {
    verify("01-threads-vs-processes");
}

#[test]
fn lesson_02_matches_its_golden() {
    verify("02-fork");
}

#[test]
fn lesson_03_matches_its_golden() {
    verify("03-pool-imap");
}

#[test]
fn lesson_04_matches_its_golden() {
    verify("04-queue");
}

#[test]
fn lesson_05_matches_its_golden() {
    verify("05-pipe");
}

#[test]
fn lesson_06_matches_its_golden() {
    verify("06-manager-dict");
}

#[test]
fn every_lesson_folder_has_a_golden_test_here() {
    let (lessons, _) = built();
    let names: Vec<&str> = lessons.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names, TESTED,
        "add a test for each lesson to tests/tests/lessons.rs"
    );
}

#[test]
fn every_lesson_has_its_readme_golden_python_twin_and_a_row_in_the_course_readme() {
    let (lessons, _) = built();
    let course_readme =
        std::fs::read_to_string(workspace::root().join("README.md")).expect("README.md");
    for lesson in lessons {
        for file in [
            "README.md",
            "golden.stdout",
            "python/lesson.py",
            "tests/cli.rs",
        ] {
            assert!(
                lesson.dir.join(file).is_file(),
                "lesson {} has no {file}",
                lesson.name
            );
        }
        assert!(
            !lesson.title.is_empty(),
            "lesson {} has no description in Cargo.toml",
            lesson.name
        );
        assert!(
            !lesson.python.is_empty(),
            "lesson {} has no [package.metadata.course] python",
            lesson.name
        );
        let main_rs = std::fs::read_to_string(lesson.dir.join("src/main.rs")).expect("main.rs");
        assert!(
            main_rs.contains("start_lesson(env!(\"CARGO_PKG_NAME\"))"),
            "lesson {}'s main must call start_lesson(env!(\"CARGO_PKG_NAME\"))",
            lesson.name
        );
        let row = format!("| [{}](lessons/{}/) |", lesson.name, lesson.name);
        assert!(
            course_readme.contains(&row),
            "README.md's lesson table has no row for {}",
            lesson.name
        );
    }
}

#[test]
fn no_golden_line_is_wider_than_100_columns() {
    let root = workspace::root();
    let mut goldens = Vec::new();
    for folder in ["lessons", "exercises"] {
        let mut stack = vec![root.join(folder)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable folder").flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if path.is_dir() && name != "target" {
                    stack.push(path);
                } else if name.starts_with("golden.std") {
                    goldens.push(path);
                }
            }
        }
    }
    assert!(
        goldens.len() >= 6 + 12,
        "found {} golden files",
        goldens.len()
    );
    for golden in goldens {
        let text = std::fs::read_to_string(&golden).expect("golden");
        for (number, line) in text.lines().enumerate() {
            if line.starts_with("#@") {
                continue;
            }
            assert!(
                line.chars().count() <= 100,
                "{}:{}: {} columns (at most 100): {line}",
                golden.display(),
                number + 1,
                line.chars().count()
            );
        }
    }
}

#[test]
fn with_rust_backtrace_set_no_lesson_prints_a_backtrace() {
    // Many learners set RUST_BACKTRACE=1; a panic a lesson causes on purpose
    // must still print its one-line message only.
    let (lessons, binaries) = built();
    for lesson in lessons {
        let binary = &binaries
            .iter()
            .find(|(n, _)| *n == lesson.package)
            .unwrap()
            .1;
        let output = std::process::Command::new(binary)
            .env("RUST_BACKTRACE", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the lesson runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", lesson.name);
        assert!(
            !stderr.contains("stack backtrace"),
            "{} printed a backtrace:\n{stderr}",
            lesson.name
        );
    }
}
