//! One lesson run checked against its golden files: the check that
//! `cargo xtask verify` and `cargo test` share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diff::unified;
use crate::golden::{self, Golden};
use crate::runner::{self, Run};
use crate::workspace::{Lesson, shown};

/// Why a lesson failed verification.
#[derive(Debug)]
pub struct Failure {
    /// One sentence saying why, naming the lesson.
    pub reason: String,
    /// A unified diff of golden against normalised output (may be empty).
    pub diff: String,
    /// The run, when there was one (for saving its raw output).
    pub run: Option<Box<Run>>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.reason)?;
        if !self.diff.is_empty() {
            write!(f, "\n{}", self.diff.trim_end())?;
        }
        Ok(())
    }
}

/// The golden files of a lesson, parsed.
pub struct Goldens {
    /// `golden.stdout`.
    pub stdout: Golden,
    /// Where it was read from.
    pub stdout_path: PathBuf,
    /// `golden.stderr`, if there is one.
    pub stderr: Option<(Golden, PathBuf)>,
    /// Without a `golden.stderr`, may the program write to stderr? A
    /// lesson may not (everything it prints is checked); an exercise may
    /// (a learner's `eprintln!` or `dbg!` is debugging, not the answer).
    pub stderr_free: bool,
}

/// Reads and parses one golden file; `Ok(None)` if there is none.
///
/// # Errors
/// A message naming the file if it cannot be read or parsed.
pub fn read_golden(path: &Path) -> Result<Option<Golden>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    golden::parse(&text)
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl Goldens {
    /// Reads and parses `dir/golden.stdout` and, if there is one,
    /// `dir/golden.stderr`: the golden files of a lesson or an exercise.
    ///
    /// # Errors
    /// A message naming the file if `golden.stdout` is missing, or either
    /// file cannot be read or parsed.
    ///
    /// A `golden.stdout` whose header says `#@ needs: PROGRAM` checks the
    /// form of the output that PROGRAM makes possible: where PROGRAM is not
    /// on `PATH`, `golden.without-PROGRAM.stdout` is checked instead (it
    /// must exist). So a machine without PROGRAM cannot pass the form that
    /// needs it, nor one with PROGRAM the form without.
    pub fn load(dir: &Path) -> Result<Goldens, String> {
        let mut stdout_path = dir.join("golden.stdout");
        let stderr_path = dir.join("golden.stderr");
        let missing = |path: &Path| format!("cannot read {}: no such file", shown(path));
        let mut stdout = read_golden(&stdout_path)?.ok_or_else(|| missing(&stdout_path))?;
        if let Some(program) = stdout.needs.clone()
            && !on_path(&program)
        {
            stdout_path = dir.join(format!("golden.without-{program}.stdout"));
            stdout = read_golden(&stdout_path)?.ok_or_else(|| missing(&stdout_path))?;
        }
        Ok(Goldens {
            stdout,
            stdout_path,
            stderr: read_golden(&stderr_path)?.map(|golden| (golden, stderr_path)),
            stderr_free: false,
        })
    }
}

/// True if `program` is an executable file in a directory of `PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Reads and parses a lesson's golden files (from `goldens` instead of the
/// lesson folder, when given).
///
/// # Errors
/// As [`Goldens::load`].
pub fn load_goldens(lesson: &Lesson, goldens: Option<&Path>) -> Result<Goldens, String> {
    Goldens::load(&lesson.golden_dir(goldens))
}

/// Runs `binary` once and checks it against the lesson's goldens. Returns the
/// run's duration on success.
///
/// # Errors
/// As [`check_run`], and a [`Failure`] without a run when the goldens
/// cannot be read or the binary cannot be started.
pub fn verify_lesson(
    lesson: &Lesson,
    binary: &Path,
    goldens: Option<&Path>,
) -> Result<Duration, Failure> {
    let fail = |reason: String| Failure {
        reason,
        diff: String::new(),
        run: None,
    };
    let goldens =
        load_goldens(lesson, goldens).map_err(|e| fail(format!("lesson {}: {e}", lesson.name)))?;
    let run = runner::run(binary, &goldens.stdout.args, goldens.stdout.timeout).map_err(|e| {
        fail(format!(
            "lesson {}: could not start {}: {e}",
            lesson.name,
            binary.display()
        ))
    })?;
    check_run(&format!("lesson {}", lesson.name), &goldens, run)
}

/// Checks a finished run against parsed goldens. `what` names the program
/// in the reason ("lesson 02-fork", "exercise 02.1").
///
/// # Errors
/// A [`Failure`] that says what went wrong first: a limit hit (timeout,
/// output, processes), a leaked process, stdout, stderr, then the exit
/// status.
pub fn check_run(what: &str, goldens: &Goldens, run: Run) -> Result<Duration, Failure> {
    let golden = &goldens.stdout;
    let fail = |reason: String, diff: String, run: Run| Failure {
        reason: format!("{what}: {reason}"),
        diff,
        run: Some(Box::new(run)),
    };
    if run.timed_out {
        let reason = format!(
            "did not finish within {:?}: its whole process group was killed",
            run.timeout
        );
        return Err(fail(reason, String::new(), run));
    }
    if run.flooded {
        let reason = "wrote more output than any run should, and was stopped \
                      (its whole process group was killed)"
            .to_string();
        return Err(fail(reason, String::new(), run));
    }
    if let Some(count) = run.too_many_processes {
        let reason = format!(
            "started too many processes ({count} at once) and was stopped \
             (its whole process group was killed)"
        );
        return Err(fail(reason, String::new(), run));
    }
    if !run.leaked.is_empty() {
        let zombies = match run.zombies.as_slice() {
            [] => String::new(),
            [one] => format!("; {one} was a zombie: it had exited, and nobody waited for it"),
            many => format!("; {many:?} were zombies: they had exited, and nobody waited for them"),
        };
        let reason = format!(
            "leaked a child process: pid {:?} still in its process group after it exited (killed and reaped now){zombies}",
            run.leaked
        );
        return Err(fail(reason, String::new(), run));
    }
    if let Err(mismatch) = golden::check(golden, &run.stdout) {
        let diff = golden_diff(golden, &run.stdout, &goldens.stdout_path, "stdout");
        return Err(fail(format!("stdout: {mismatch}"), diff, run));
    }
    match &goldens.stderr {
        Some((stderr_golden, path)) => {
            if let Err(mismatch) = golden::check(stderr_golden, &run.stderr) {
                let diff = golden_diff(stderr_golden, &run.stderr, path, "stderr");
                return Err(fail(format!("stderr: {mismatch}"), diff, run));
            }
        }
        None if goldens.stderr_free => {}
        None => {
            if let Some(first) = run.stderr.lines().next() {
                let reason = format!("wrote to stderr, and it has no golden.stderr: `{first}`");
                return Err(fail(reason, String::new(), run));
            }
        }
    }
    if run.exit != golden.exit {
        let reason = format!(
            "exited with status {}, but its golden says {}",
            run.exit, golden.exit
        );
        return Err(fail(reason, String::new(), run));
    }
    Ok(run.elapsed)
}

fn golden_diff(golden: &Golden, output: &str, path: &Path, stream: &str) -> String {
    unified(
        &golden::render_for_diff(golden),
        &golden::normalise(golden, output),
        &path.display().to_string(),
        &format!("{stream}, normalised"),
    )
}
