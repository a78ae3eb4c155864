//! The whole command line in one place: every command, its options and its
//! help text, and the parsing they share. Usage errors exit with status 2.

use std::process::ExitCode;

use crate::bench::figures::FIGURES;

pub const HELP: &str = "\
cargo xtask: the course's tooling

Usage: cargo xtask <COMMAND> [ARGS]

Commands:
  verify [LESSON...] [--repeat N] [--goldens DIR]
                  run each lesson and check its output against its golden file
  bless [LESSON...] [--runs N]
                  write golden files from N runs (20 by default) that agree
  list            the lessons, with what each teaches and the Python it ports
  run [LESSON]    run the lessons in order, as a tour (or just one); on a
                  terminal it pauses after each lesson
  compare [LESSON]
                  run a lesson's Python twin and the Rust lesson, side by side
  bench [FIGURE...] [--quick] [--samples N] [--publish] [--redraw]
                  measure every primitive against raw libc and CPython
  check [EXERCISE...] [--all] [--solutions]
                  grade an exercise: build, run, then 20 stress runs
  hint [EXERCISE] the hint for an exercise (the current one by default)
  progress        every exercise: solved, not solved yet, not tried
  watch           check the current exercise each time you save it
  help            this text

An EXERCISE is named by its id (02.1 or 2.1), its name (flush-before-fork)
or its folder (02-fork/1-flush-before-fork).
A LESSON is named by its number (01 or 1), its folder (01-threads-vs-processes),
the folder without the number, or its package name.
Run `cargo xtask <COMMAND> --help` for more on one command.";

pub const VERIFY_HELP: &str = "\
cargo xtask verify [LESSON...] [--repeat N] [--goldens DIR]

Builds the lessons, runs each one in its own process group (stdin null, killed
as a group at the golden's timeout), and checks exit status, stdout and stderr
against lessons/NN-name/golden.stdout (and golden.stderr, if present; without
it stderr must be empty). A lesson that leaves a process running fails.

  --repeat N      run every lesson N times (default 1): flaky goldens show up
  --goldens DIR   read DIR/NN-name/golden.stdout instead of the lesson's own

Ends with `N passed, M failed`; exits 0 only if nothing failed. Raw output of
failed runs is saved under the target directory, in xtask/verify/.";

pub const BLESS_HELP: &str = "\
cargo xtask bless [LESSON...] [--runs N]

Runs each lesson N times (default 20) and writes its golden file, keeping every
hole and any-order block the current golden has and turning pids, durations
and addresses of new lines into holes. Writes only if every run calls for the
same golden; otherwise writes nothing and lists the lines that varied, for you
to decide: a hole, an any-order block, or a bug in the lesson.
Refuses to run when CI is set: CI checks goldens, it never writes them.";

pub const COMPARE_HELP: &str = "\
cargo xtask compare [LESSON]

Runs the lesson's Python twin (lessons/NN-name/python/lesson.py, with python3)
and the Rust lesson, and shows both outputs side by side (one after the other
on a terminal narrower than 160 columns), each with its total time. Without
LESSON, every lesson in turn.";

pub const CHECK_HELP: &str = "\
cargo xtask check [EXERCISE...] [--all] [--solutions]

Grades an exercise the way the lessons are verified: builds it (cargo's
errors are shown as cargo prints them), runs it in its own process group
against the golden file in its folder (timeout, leak check, at most 1 MiB
of output and 64 processes), and after one passing run runs it 20 more
times: idle, with a busy loop on every CPU, pinned to one CPU, and starved
(one CPU at the lowest priority beside a busy loop). It passes only if all
21 runs pass; a race shows as some of them failing. At most 30 s of stress.

Without EXERCISE: the first exercise not solved yet. Progress is kept in
target/exercises/progress.txt (never in the tracked tree).

  --all         every exercise, in order
  --solutions   check the exercises themselves (what CI runs): each as
                shipped must fail, each reference solution must pass every
                stress run, each racy fixture (exercises/racy/) must pass
                most single runs and be caught by the stress runs";

pub const HINT_HELP: &str = "\
cargo xtask hint [EXERCISE]

Prints the exercise's hint (exercises/NN-lesson/K-name/hint.md), with what
a hang or a race usually means for it. Without EXERCISE: the current one.";

pub const PROGRESS_HELP: &str = "\
cargo xtask progress

Lists every exercise with its status: solved, edited since it passed, not
solved yet, not tried. An arrow marks the current one (what `check` and
`watch` take up).";

pub const WATCH_HELP: &str = "\
cargo xtask watch

Checks the current exercise, then again each time its file is saved; once
it passes, moves on to the next. On a terminal: Enter checks now, h shows
the hint, q quits. Ctrl-C stops it (and any run in progress).";

pub const BENCH_HELP: &str = "\
cargo xtask bench [FIGURE...] [--quick] [--samples N] [--publish] [--redraw] [--no-peers]

Builds bench/ in release mode and measures each figure, sample after sample,
interleaved: ours (the multiproc crate), raw (the same work on libc: the
floor), CPython (bench/python/bench.py), and the Rust crates a learner would
pick instead (bench/peers: procspawn, ipc-channel, crossbeam-channel, rayon,
and redis when redis-server is installed). Prints a table of medians with
min-max and ratios, and writes target/bench/report.md, report.json and
chart.svg (log scale).

  --quick         fewer operations per sample (a short run)
  --samples N     samples of each after one warm-up (default 5)
  --publish       also copy report.md and chart.svg to docs/bench/
  --redraw        measure nothing: draw report.md and chart.svg again from
                  the last run's target/bench/report.json
  --no-peers      skip the peer crates (their first build takes a minute or two)
  FIGURE          only these figures (see the list below)";

pub const LIST_HELP: &str =
    "cargo xtask list\n\nPrints each lesson with what it teaches and the Python it ports.";
pub const RUN_HELP: &str = "cargo xtask run [LESSON]\n\nRuns every lesson in order, as a tour, or only LESSON. After each lesson it names\nthe README to read beside it and the exercises that go with it. On a terminal it\nwaits for Enter before the next lesson (q then Enter stops); piped, it runs\nstraight through.";

/// The bench's help, with the figure names from [`FIGURES`], the one list.
pub fn bench_help() -> String {
    let mut help = BENCH_HELP.to_string();
    help.push_str("\n\nFigures:");
    let mut line = String::new();
    for figure in FIGURES {
        if line.len() + figure.name.len() > 60 {
            help.push_str(&format!("\n  {}", line.trim_end()));
            line.clear();
        }
        line.push_str(figure.name);
        line.push(' ');
    }
    help.push_str(&format!("\n  {}", line.trim_end()));
    help
}

/// A usage error: exit 2 with the message.
pub struct Usage(pub String);

pub type Outcome = Result<ExitCode, Usage>;

pub fn with_help(args: &[String], help: &str, command: fn(&[String]) -> Outcome) -> Outcome {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{help}");
        return Ok(ExitCode::SUCCESS);
    }
    command(args)
}

/// `(flag, value)` pairs, in the order given.
pub type OptionValues = Vec<(String, String)>;

/// Splits arguments into lesson names and the values of the given options.
pub fn parse_args(args: &[String], options: &[&str]) -> Result<(Vec<String>, OptionValues), Usage> {
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg.starts_with('-') {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            if !options.contains(&flag) {
                return Err(Usage(format!("unknown option `{flag}`")));
            }
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| Usage(format!("`{flag}` needs a value")))?,
            };
            values.push((flag.to_string(), value));
        } else {
            names.push(arg.clone());
        }
    }
    Ok((names, values))
}

/// Splits `args` into the boolean flags of `known` that were given and the
/// other arguments; an unknown `-` argument or `--flag=value` is a usage
/// error.
pub fn split_flags<'a>(
    args: &[String],
    known: &[&'a str],
) -> Result<(Vec<&'a str>, Vec<String>), Usage> {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    for arg in args {
        if let Some(flag) = known.iter().find(|k| **k == arg.as_str()) {
            flags.push(*flag);
        } else if let Some(flag) = known.iter().find(|k| arg.starts_with(&format!("{k}="))) {
            return Err(Usage(format!("`{flag}` takes no value")));
        } else if arg.starts_with('-') {
            return Err(Usage(format!("unknown option `{arg}`")));
        } else {
            rest.push(arg.clone());
        }
    }
    Ok((flags, rest))
}

pub fn count_option(values: &[(String, String)], flag: &str, default: u32) -> Result<u32, Usage> {
    match values.iter().rev().find(|(f, _)| f == flag) {
        None => Ok(default),
        Some((_, v)) => v
            .parse()
            .ok()
            .filter(|&n: &u32| n > 0)
            .ok_or_else(|| Usage(format!("`{flag}` takes a whole number above 0, not `{v}`"))),
    }
}
