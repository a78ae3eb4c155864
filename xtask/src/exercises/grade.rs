//! Grading one program of an exercise: build it, run it once against the
//! exercise's golden, then run it under [`STRESS`] and count the failures.
//! The runner and the golden check are the lessons' own (`harness`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use harness::runner;
use harness::verify::{Failure, Goldens, check_run};
use harness::workspace;

use super::stress::{MAX_OUTPUT, MAX_PROCESSES, Mode, STRESS};
use super::{Exercise, Kind};

/// The whole stress run of one program stops here, pass or fail: a hang
/// that shows only under stress would otherwise cost a timeout per run.
pub const BUDGET: Duration = Duration::from_secs(30);

/// What grading found.
pub enum Verdict {
    /// Cargo printed why (above).
    DoesNotCompile,
    /// The first run failed.
    Failed(Box<Failure>),
    /// The first run passed, and some stress runs did not.
    Raced(Stress),
    /// Every run made passed, but the budget ran out before all of them
    /// were made: not solved (a check passes only after all its runs).
    Unfinished(Stress),
    /// Every run passed.
    Passed(Stress),
}

/// The stress runs made, and the first failure among them.
pub struct Stress {
    /// Each run's mode and whether it passed.
    pub runs: Vec<(Mode, bool)>,
    /// The first failing run.
    pub first_failure: Option<(Mode, Box<Failure>)>,
    /// Why the runs stopped before all of [`STRESS`] was run, if they did.
    pub stopped_early: Option<String>,
    /// From the first run to the last.
    pub took: Duration,
}

impl Stress {
    /// How many runs failed.
    pub fn failed(&self) -> usize {
        self.runs.iter().filter(|(_, passed)| !passed).count()
    }

    /// "4 starved 4 pinned ...": runs per mode, with failures.
    pub fn by_mode(&self) -> String {
        let mut parts = Vec::new();
        for mode in [
            Mode::Idle,
            Mode::Busy,
            Mode::Pinned,
            Mode::Starved,
            Mode::Stopped,
        ] {
            let runs = self.runs.iter().filter(|(m, _)| *m == mode).count();
            let failed = self.runs.iter().filter(|(m, p)| *m == mode && !p).count();
            if runs > 0 {
                parts.push(match failed {
                    0 => format!("{runs} {}", mode.name()),
                    _ => format!("{runs} {} ({failed} failed)", mode.name()),
                });
            }
        }
        parts.join(", ")
    }
}

/// How to grade.
#[derive(Clone, Copy)]
pub struct Plan {
    /// Run the stress runs after a passing first run.
    pub stress: bool,
    /// Stop the stress runs at the first failure (enough for a verdict).
    pub stop_at_first_failure: bool,
    /// Show each stress run as it ends, on stderr: `.` passed, `x` failed.
    pub show_runs: bool,
}

/// Builds `kind` of `exercise` and returns the executable. Cargo's own
/// output (errors included, as cargo prints them) goes to stderr.
///
/// # Errors
/// `None` if it does not compile; a message if cargo cannot be run.
pub fn build(exercise: &Exercise, kind: Kind) -> Result<Option<PathBuf>, String> {
    let binary = exercise.binary(kind);
    let manifest = super::folder().join("Cargo.toml");
    let target = workspace::target_dir().join("exercises");
    let args = [
        "--quiet".as_ref(),
        "--manifest-path".as_ref(),
        manifest.as_os_str(),
        "--target-dir".as_ref(),
        target.as_os_str(),
        "--bin".as_ref(),
        binary.as_ref(),
    ];
    let Some(built) = workspace::cargo_build_in::<&std::ffi::OsStr>(&args, &super::folder())?
    else {
        return Ok(None);
    };
    built
        .into_iter()
        .find(|(name, _)| *name == binary)
        .map(|(_, executable)| Some(executable))
        .ok_or_else(|| format!("cargo built no binary named {binary}"))
}

/// The exercise's golden files.
///
/// # Errors
/// A message naming the file if one cannot be read or parsed.
pub fn goldens(exercise: &Exercise) -> Result<Goldens, String> {
    let mut goldens = Goldens::load(&exercise.dir)?;
    // What the learner writes to stderr is shown, not graded, unless the
    // exercise has a golden.stderr (its point is its stderr).
    goldens.stderr_free = true;
    Ok(goldens)
}

/// Runs `binary` once in `mode` and checks it against `goldens`.
///
/// # Errors
/// The [`Failure`]: a limit hit, a leak, a mismatch, an exit status.
pub fn run_once(
    exercise: &Exercise,
    binary: &std::path::Path,
    goldens: &Goldens,
    mode: Mode,
) -> Result<Duration, Box<Failure>> {
    let what = format!("exercise {} ({})", exercise.id, exercise.name);
    let _load = mode.load();
    let timeout = mode.timeout(goldens.stdout.timeout);
    // Where the exercise notes its spans (`exercises::schedule_span`).
    let spans = std::env::temp_dir().join(format!(
        "course-spans-{}-{}.tsv",
        std::process::id(),
        SPANS_FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut conditions = mode.conditions();
    conditions
        .env
        .push(("COURSE_SPANS".into(), spans.display().to_string()));
    let run =
        runner::run_with(binary, &goldens.stdout.args, timeout, &conditions).map_err(|e| Failure {
            reason: format!("{what}: could not start {}: {e}", binary.display()),
            diff: String::new(),
            run: None,
        });
    let noted = std::fs::read_to_string(&spans).unwrap_or_default();
    let _ = std::fs::remove_file(&spans);
    check_run(&what, goldens, run?).map_err(|failure| {
        let mut failure = explain_limits(failure);
        let schedule = draw_spans(&noted);
        if !schedule.is_empty() {
            failure
                .reason
                .push_str("\nThis run's schedule (who ran what, when):");
            for line in schedule {
                failure.reason.push('\n');
                failure.reason.push_str(&line);
            }
        }
        Box::new(failure)
    })
}

/// Numbers the spans files of this grader's runs.
static SPANS_FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The text schedule of the spans an exercise noted (`row\tlabel\tstart\tend`
/// lines); none if it noted none.
pub fn draw_spans(noted: &str) -> Vec<String> {
    let mut schedule = course::schedule::Schedule::new("the run");
    let mut any = false;
    for line in noted.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        if let [row, label, start, end] = fields[..]
            && let (Ok(start), Ok(end)) = (start.parse(), end.parse())
        {
            schedule.add(row, label, start, end);
            any = true;
        }
    }
    if any { schedule.render() } else { Vec::new() }
}

/// Builds and grades `kind` of `exercise` under `plan`.
///
/// # Errors
/// A message if cargo cannot be run or the goldens cannot be read.
pub fn grade(exercise: &Exercise, kind: Kind, plan: Plan) -> Result<Verdict, String> {
    let Some(binary) = build(exercise, kind)? else {
        return Ok(Verdict::DoesNotCompile);
    };
    let goldens = goldens(exercise)?;
    let started = Instant::now();
    if let Err(failure) = run_once(exercise, &binary, &goldens, Mode::Idle) {
        return Ok(Verdict::Failed(failure));
    }
    let mut stress = Stress {
        runs: Vec::new(),
        first_failure: None,
        stopped_early: None,
        took: Duration::ZERO,
    };
    if plan.stress && plan.show_runs {
        eprint!(
            "passed one run; {} stress runs (. passed, x failed): ",
            STRESS.len()
        );
    }
    if plan.stress {
        for (i, &mode) in STRESS.iter().enumerate() {
            if started.elapsed() > BUDGET {
                stress.stopped_early = Some(format!(
                    "stopped after {i} of {} stress runs: the {}-second budget was spent",
                    STRESS.len(),
                    BUDGET.as_secs()
                ));
                break;
            }
            let result = run_once(exercise, &binary, &goldens, mode);
            stress.runs.push((mode, result.is_ok()));
            if plan.show_runs {
                eprint!("{}", if result.is_ok() { "." } else { "x" });
            }
            if let Err(failure) = result {
                if stress.first_failure.is_none() {
                    stress.first_failure = Some((mode, failure));
                }
                if plan.stop_at_first_failure {
                    break;
                }
            }
        }
    }
    if plan.stress && plan.show_runs {
        eprintln!();
    }
    stress.took = started.elapsed();
    Ok(if stress.failed() > 0 {
        Verdict::Raced(stress)
    } else if plan.stress && stress.runs.len() < STRESS.len() {
        Verdict::Unfinished(stress)
    } else {
        Verdict::Passed(stress)
    })
}

/// Adds to a failure what the limits mean for a learner.
fn explain_limits(mut failure: Failure) -> Failure {
    if let Some(run) = &failure.run {
        if run.flooded {
            failure.reason.push_str(&format!(
                ".\n  The limit is {} MiB on each of stdout and stderr: is a loop printing forever?",
                MAX_OUTPUT >> 20
            ));
        }
        if run.too_many_processes.is_some() {
            failure.reason.push_str(&format!(
                ".\n  The limit is {MAX_PROCESSES} processes at once: does a child fork again, \
                 or does a loop start processes without end?"
            ));
        }
    }
    failure
}
