//! Every lesson against its golden file: the same check as `cargo xtask
//! verify`, so `cargo test --workspace` covers it. A `harness = false`
//! target that iterates the lessons `cargo metadata` names, so that a new
//! lesson is tested without an edit here; one line per lesson, then
//! libtest's closing line.
//!
//! A package's tests can only name its own binaries, so the lesson binaries
//! are found the way verify finds them: by building them and reading cargo's
//! JSON messages. The lessons run one after the other, as verify runs them:
//! their goldens hold margins for a lesson alone on the machine.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use harness::verify;
use harness::workspace::{self, Lesson};

fn main() -> ExitCode {
    // Arguments from `cargo test` that start with `-` (`--nocapture`, ...)
    // are no business of ours; the others filter by lesson name.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let lessons = workspace::lessons().expect("cargo metadata");
    let chosen: Vec<&Lesson> = lessons
        .iter()
        .filter(|l| filters.is_empty() || filters.iter().any(|f| l.name.contains(f.as_str())))
        .collect();
    let owned: Vec<Lesson> = chosen.iter().map(|l| (*l).clone()).collect();
    let binaries = workspace::build(&owned, false).expect("building the lessons");
    println!("\nrunning {} tests", 2 * chosen.len());
    let started = Instant::now();
    let (mut passed, mut failed) = (0, 0);
    for lesson in chosen {
        let binary = &binaries
            .iter()
            .find(|(n, _)| *n == lesson.package)
            .expect("build() checked every lesson has a binary")
            .1;
        let checks: [(&str, Result<(), String>); 2] = [
            (
                "matches its golden",
                verify::verify_lesson(lesson, binary, None)
                    .map(|_| ())
                    .map_err(|f| f.to_string()),
            ),
            (
                "prints no backtrace with RUST_BACKTRACE=1",
                no_backtrace(binary),
            ),
        ];
        for (what, outcome) in checks {
            match outcome {
                Ok(()) => {
                    println!("test lesson {} {what} ... ok", lesson.name);
                    passed += 1;
                }
                Err(why) => {
                    println!("test lesson {} {what} ... FAILED\n{why}", lesson.name);
                    failed += 1;
                }
            }
        }
    }
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        2 * (lessons.len() - owned.len()),
        started.elapsed().as_secs_f64()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Many learners set RUST_BACKTRACE=1; a panic a lesson causes on purpose
/// must still print its one-line message only.
fn no_backtrace(binary: &Path) -> Result<(), String> {
    let output = Command::new(binary)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run {}: {e}", binary.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("exit status {}: {stderr}", output.status));
    }
    if stderr.contains("stack backtrace") {
        return Err(format!("it printed a backtrace:\n{stderr}"));
    }
    Ok(())
}
