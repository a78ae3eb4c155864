//! `cargo xtask check --solutions`: CI's check of the exercises themselves.
//! Each exercise as shipped must fail `check`, each reference solution must
//! pass every stress run, and each racy fixture must pass most single runs
//! and be caught by the stress runs.

use std::process::ExitCode;

use crate::exercises::grade::{self, Plan, Stress, Verdict};
use crate::exercises::stress::{Mode, STRESS};
use crate::exercises::{Answer, Exercise, Kind};

/// Single runs of a racy fixture; most must pass.
const FIXTURE_SINGLE_RUNS: usize = 5;

/// CI's check of the exercises themselves: each as shipped fails, each
/// solution passes every stress run, each racy fixture passes most single
/// runs and is caught by the stress runs.
pub fn check_solutions(chosen: &[Exercise]) -> ExitCode {
    let mut problems = Vec::new();
    for exercise in chosen {
        println!("== exercise {} ({})", exercise.id, exercise.name);
        match self_test_one(exercise) {
            Ok(lines) => {
                for line in lines {
                    println!("  {line}");
                }
            }
            Err(problem) => {
                println!("  PROBLEM: {problem}");
                problems.push(format!("{}: {problem}", exercise.id));
            }
        }
    }
    println!();
    if problems.is_empty() {
        println!(
            "{} exercises: every one fails as shipped, every solution passes its stress runs, \
             every racy fixture is caught",
            chosen.len()
        );
        ExitCode::SUCCESS
    } else {
        println!("{} problems:", problems.len());
        for problem in &problems {
            println!("  {problem}");
        }
        ExitCode::FAILURE
    }
}

fn self_test_one(exercise: &Exercise) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    // As shipped: it must fail, and a verdict needs only the first failure.
    if edited(&exercise.source()) {
        lines.push("as shipped: skipped (the file differs from git's HEAD)".into());
    } else {
        let plan = Plan {
            stress: true,
            stop_at_first_failure: true,
            show_runs: false,
        };
        let verdict = grade::grade(exercise, Kind::Exercise, plan)?;
        let how = match &verdict {
            Verdict::DoesNotCompile => "does not compile".to_string(),
            Verdict::Failed(failure) => first_line(&failure.reason),
            Verdict::Raced(stress) => format!(
                "passes one run, caught by stress run {} ({})",
                stress.runs.len(),
                stress.runs.last().map_or("", |(m, _)| m.name())
            ),
            Verdict::Passed(_) | Verdict::Unfinished(_) => {
                return Err("as shipped it passes check: a broken exercise must fail".into());
            }
        };
        lines.push(format!("as shipped: fails: {how}"));
    }
    // The solution: every run passes.
    let plan = Plan {
        stress: true,
        stop_at_first_failure: true,
        show_runs: false,
    };
    match grade::grade(exercise, Kind::Solution, plan)? {
        Verdict::Passed(stress) => lines.push(format!(
            "solution: passes 1 + {} stress runs in {:.1} s",
            stress.runs.len(),
            stress.took.as_secs_f64()
        )),
        Verdict::Unfinished(stress) => {
            return Err(format!(
                "the solution did not finish its stress runs: {}",
                stress.stopped_early.unwrap_or_default()
            ));
        }
        Verdict::DoesNotCompile => return Err("the solution does not compile".into()),
        Verdict::Failed(failure) => return Err(format!("the solution fails: {failure}")),
        Verdict::Raced(stress) => {
            return Err(format!("the solution races: {}", race_summary(&stress)));
        }
    }
    if exercise.file(Kind::Racy).is_some() {
        lines.push(check_fixture(exercise)?);
    }
    for (i, answer) in exercise.answers.iter().enumerate() {
        lines.push(check_answer(exercise, i, answer)?);
    }
    Ok(lines)
}

/// A learner's kept answer: a right one must pass every run, a wrong one
/// must not pass.
fn check_answer(exercise: &Exercise, i: usize, answer: &Answer) -> Result<String, String> {
    let plan = Plan {
        stress: true,
        stop_at_first_failure: !answer.right,
        show_runs: false,
    };
    let name = format!(
        "{} answer `{}`",
        if answer.right { "right" } else { "wrong" },
        answer.style
    );
    let verdict = grade::grade(exercise, Kind::Answer(i), plan)?;
    match (answer.right, verdict) {
        (true, Verdict::Passed(stress)) => Ok(format!(
            "{name}: passes 1 + {} stress runs in {:.1} s",
            stress.runs.len(),
            stress.took.as_secs_f64()
        )),
        (true, Verdict::DoesNotCompile) => Err(format!("{name} does not compile")),
        (true, Verdict::Failed(failure)) => Err(format!("{name} is refused: {failure}")),
        (true, Verdict::Raced(stress)) => {
            Err(format!("{name} is refused: {}", race_summary(&stress)))
        }
        (true, Verdict::Unfinished(stress)) => Err(format!(
            "{name} ran out of budget after {} stress runs",
            stress.runs.len()
        )),
        (false, Verdict::Passed(_)) => Err(format!("{name} passes check: the grader missed it")),
        (false, Verdict::DoesNotCompile) => Ok(format!("{name}: does not compile")),
        (false, Verdict::Failed(failure)) => Ok(format!(
            "{name}: fails its first run: {}",
            first_line(&failure.reason)
        )),
        (false, Verdict::Raced(stress)) => Ok(format!(
            "{name}: caught by stress run {} ({})",
            stress.runs.len(),
            stress.runs.last().map_or("", |(m, _)| m.name())
        )),
        (false, Verdict::Unfinished(stress)) => Ok(format!(
            "{name}: not solved: the budget ran out after {} stress runs",
            stress.runs.len()
        )),
    }
}

/// A racy fixture must pass most single runs, and fail under stress.
fn check_fixture(exercise: &Exercise) -> Result<String, String> {
    let binary = grade::build(exercise, Kind::Racy)?
        .ok_or_else(|| "the racy fixture does not compile".to_string())?;
    let goldens = grade::goldens(exercise)?;
    let single_passes = (0..FIXTURE_SINGLE_RUNS)
        .filter(|_| grade::run_once(exercise, &binary, &goldens, Mode::Idle).is_ok())
        .count();
    if single_passes * 2 <= FIXTURE_SINGLE_RUNS {
        return Err(format!(
            "the racy fixture passed only {single_passes} of {FIXTURE_SINGLE_RUNS} single runs: \
             it should pass most, so that only the stress runs catch it"
        ));
    }
    let plan = Plan {
        stress: true,
        stop_at_first_failure: true,
        show_runs: false,
    };
    match grade::grade(exercise, Kind::Racy, plan)? {
        Verdict::Raced(stress) => Ok(format!(
            "racy fixture: passes {single_passes} of {FIXTURE_SINGLE_RUNS} single runs; \
             caught by stress run {} ({})",
            stress.runs.len(),
            stress.runs.last().map_or("", |(m, _)| m.name())
        )),
        Verdict::Failed(_) => Ok(format!(
            "racy fixture: passes {single_passes} of {FIXTURE_SINGLE_RUNS} single runs; \
             failed its first run this time"
        )),
        Verdict::Passed(_) | Verdict::Unfinished(_) => Err(format!(
            "the racy fixture passed all {} stress runs: the stress did not catch it",
            STRESS.len()
        )),
        Verdict::DoesNotCompile => Err("the racy fixture does not compile".into()),
    }
}

fn race_summary(stress: &Stress) -> String {
    let first = stress
        .first_failure
        .as_ref()
        .map(|(mode, failure)| format!("first in a {} run: {failure}", mode.name()))
        .unwrap_or_default();
    format!(
        "{} of {} runs failed; {first}",
        stress.failed(),
        stress.runs.len()
    )
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// True if git says `path` differs from HEAD (false if git cannot tell).
fn edited(path: &std::path::Path) -> bool {
    std::process::Command::new("git")
        .arg("-C")
        .arg(harness::workspace::root())
        .args(["diff", "--quiet", "HEAD", "--"])
        .arg(path)
        .status()
        .is_ok_and(|status| status.code() == Some(1))
}
