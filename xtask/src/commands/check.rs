//! `cargo xtask check`: grade the learner's exercise (and, with
//! `--solutions`, the exercises themselves: `check_solutions.rs`).

use std::process::ExitCode;

use harness::verify::Failure;

use crate::exercises::grade::{self, Plan, Verdict};
use crate::exercises::progress::{Progress, hash_of_source};
use crate::exercises::stress::{Mode, STRESS};
use crate::exercises::{self, Exercise, Kind, shown};
use crate::flags::{Args, Outcome, Usage};

pub(super) fn catalogue() -> Result<Vec<Exercise>, Usage> {
    exercises::all().map_err(Usage)
}

pub fn cmd_check(args: Args) -> Outcome {
    let all = catalogue()?;
    let mut chosen = Vec::new();
    for name in &args.names {
        chosen.push(exercises::find(&all, name).map_err(Usage)?.clone());
    }
    if args.has("--solutions") {
        return Ok(super::check_solutions::check_solutions(
            if chosen.is_empty() { &all } else { &chosen },
        ));
    }
    let mut progress = Progress::load();
    if args.has("--all") {
        if !chosen.is_empty() {
            return Err(Usage("give exercises or --all, not both".into()));
        }
        chosen = all.clone();
    }
    if chosen.is_empty() {
        let Some(current) = progress.current(&all) else {
            println!("Every exercise is solved. `cargo xtask progress` shows them all.");
            return Ok(ExitCode::SUCCESS);
        };
        chosen.push(current.clone());
    }
    let mut all_passed = true;
    for exercise in &chosen {
        match check_one(exercise, &mut progress, &all) {
            Ok(passed) => all_passed &= passed,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Checks the learner's file, prints the verdict and records it. Returns
/// whether it passed.
pub(super) fn check_one(
    exercise: &Exercise,
    progress: &mut Progress,
    all: &[Exercise],
) -> Result<bool, String> {
    println!(
        "== exercise {}: {} ({})",
        exercise.id,
        exercise.title,
        shown(&exercise.source())
    );
    let plan = Plan {
        stress: true,
        stop_at_first_failure: false,
        show_runs: true,
    };
    let checked = hash_of_source(exercise);
    let verdict = grade::grade(exercise, Kind::Exercise, plan)?;
    let passed = matches!(verdict, Verdict::Passed(_));
    report(exercise, &verdict);
    progress.record(exercise, passed, checked)?;
    if passed {
        println!(
            "Compare yours with the reference solution: {}",
            shown(&exercise.solution)
        );
        match progress.current(all) {
            Some(next) => println!(
                "Next: exercise {} ({}): {}",
                next.id,
                next.name,
                shown(&next.source())
            ),
            None => println!("That was the last one: every exercise is solved."),
        }
    } else {
        println!(
            "Stuck? `cargo xtask hint {}`. Start over: `git restore {}`.",
            exercise.id,
            shown(&exercise.source())
        );
    }
    Ok(passed)
}

/// Prints what a learner needs from a verdict.
fn report(exercise: &Exercise, verdict: &Verdict) {
    match verdict {
        Verdict::DoesNotCompile => {
            println!("NOT YET: it does not compile. Cargo's errors are above; read the first one.");
        }
        Verdict::Failed(failure) => {
            println!("NOT YET: {}", indent_after_first(&failure.reason));
            show_failure(failure);
            if failure.run.as_ref().is_some_and(|r| r.timed_out)
                && let Some(advice) = exercise.hint_section("When it hangs")
            {
                println!("What a hang usually means here:\n{}", indent(&advice));
            }
        }
        Verdict::Raced(stress) => {
            println!(
                "NOT YET: the first run passed, but {} of {} stress runs failed ({}).",
                stress.failed(),
                stress.runs.len(),
                stress.by_mode()
            );
            if let Some(note) = &stress.stopped_early {
                println!("  ({note})");
            }
            println!(
                "This is what a race looks like: the program is right on some schedules and\n\
                 wrong on others, and one passing run proves nothing. The first failing run:"
            );
            if let Some((mode, failure)) = &stress.first_failure {
                println!(
                    "[{}] {}",
                    mode.describe(),
                    indent_after_first(&failure.reason)
                );
                show_failure(failure);
                let hang = failure.run.as_ref().is_some_and(|r| r.timed_out);
                let section = if hang {
                    "When it hangs"
                } else {
                    "When it races"
                };
                if let Some(advice) = exercise.hint_section(section) {
                    println!("{section}:\n{}", indent(&advice));
                }
                if *mode == Mode::Stopped {
                    println!(
                        "In a stopped run one process is paused for 3 to 5 s, as a debugger, a \
                         Ctrl-Z or an\n  overloaded host pauses it: no sleep or timeout is \
                         long enough, since a pause can\n  always be longer. Wait for the \
                         event itself (a join, end of stream, a count of results)."
                    );
                }
            }
        }
        Verdict::Unfinished(stress) => {
            println!(
                "NOT YET: every run passed, but only {} of {} stress runs fit in the {}-second \
                 budget ({:.1} s so far).",
                stress.runs.len(),
                STRESS.len(),
                grade::BUDGET.as_secs(),
                stress.took.as_secs_f64()
            );
            println!(
                "  A check passes only after all its runs. The reference solution's whole check \
                 takes a few seconds:\n  is something waiting longer than it must (a sleep, a \
                 timeout that is not needed)?"
            );
        }
        Verdict::Passed(stress) => {
            println!(
                "PASSED: 1 run, then {} stress runs ({}), all right, in {:.1} s.",
                stress.runs.len(),
                stress.by_mode(),
                stress.took.as_secs_f64()
            );
            if let Some(note) = &stress.stopped_early {
                println!("  ({note})");
            }
        }
    }
}

/// What the learner needs to see of a failed run: a panic first (its
/// message is the clearest clue there is), then the diff, or when there is
/// none (a hang, a leak), what the run printed; and what it wrote to
/// stderr, marked as not graded.
fn show_failure(failure: &Failure) {
    let run = failure.run.as_deref();
    if let Some(panic) = run.and_then(|r| panic_message(&r.stderr)) {
        println!("It panicked:");
        for line in panic.lines() {
            println!("  ! {}", truncate(line, 100));
        }
    }
    if !failure.diff.is_empty() {
        println!("{}", failure.diff.trim_end());
        if let Some(run) = run {
            show_tail("stderr (shown, not graded)", &run.stderr, false);
        }
        return;
    }
    let Some(run) = run else { return };
    show_tail("stdout", &run.stdout, true);
    show_tail("stderr (shown, not graded)", &run.stderr, false);
}

/// The last 20 lines of `text`, under `name`; "(nothing on ...)" if
/// `say_empty` and there is nothing.
fn show_tail(name: &str, text: &str, say_empty: bool) {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        if say_empty {
            println!("(nothing on {name})");
        }
        return;
    }
    let shown_from = lines.len().saturating_sub(20);
    println!(
        "{name}{}:",
        if shown_from > 0 {
            ", its last 20 lines"
        } else {
            ""
        }
    );
    for line in &lines[shown_from..] {
        println!("  | {}", truncate(line, 100));
    }
}

/// A Rust panic's report in `stderr`: the "panicked at" line and the
/// message lines after it, up to the backtrace note.
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at "));
    let first = lines.next()?;
    let rest: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
        .take(5)
        .collect();
    Some(
        std::iter::once(first)
            .chain(rest)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

fn truncate(line: &str, width: usize) -> String {
    match line.char_indices().nth(width) {
        Some((at, _)) => format!("{}...", &line[..at]),
        None => line.to_string(),
    }
}

pub(super) fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent_after_first(text: &str) -> String {
    text.replace('\n', "\n  ")
}

#[cfg(test)]
mod tests {
    use super::panic_message;

    #[test]
    fn a_panic_is_found_with_its_message() {
        let stderr = "progress 1\nthread 'main' (7) panicked at main.rs:3:5:\nthe pool is gone\n\
                      note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_message(stderr).unwrap(),
            "thread 'main' (7) panicked at main.rs:3:5:\nthe pool is gone"
        );
        assert_eq!(panic_message("just a note\n"), None);
    }
}
