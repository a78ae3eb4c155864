//! The whole command line in one place: every command, its options and its
//! help text, and the parsing they share. Usage errors exit with status 2.

use std::process::ExitCode;

use crate::bench::figures::FIGURES;
use crate::commands;

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
  bench [FIGURE...] [--quick] [--samples N] [--publish] [--redraw] [--no-peers]
        [--no-sweeps]
                  measure every primitive against raw libc and CPython
  check [EXERCISE...] [--all] [--solutions]
                  grade an exercise: build, run, then 20 stress runs
  hint [EXERCISE] the hint for an exercise (the current one by default)
  progress        every exercise: solved, not solved yet, not tried
  watch           check the current exercise each time you save it
  codegen [--check]
                  write the tables and lists that follow from the folders
  timeline LESSON [--python]
                  draw each traced section of a lesson (and its twin) as SVG
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
An exercise that notes its spans (exercises::schedule_span) gets the failing
run's schedule drawn under the failure: which worker did what, and when.

Without EXERCISE: the first exercise not solved yet. Progress is kept in
target/exercises/progress.txt (never in the tracked tree).

  --all         every exercise, in order
  --solutions   check the exercises themselves (what CI runs): each as
                shipped must fail, each reference solution must pass every
                stress run, each racy fixture (exercises/racy/) must pass
                most single runs and be caught by the stress runs";

pub const TIMELINE_HELP: &str = "\
cargo xtask timeline LESSON [--python]

Runs the lesson with COURSE_TRACE set, so that each section that prints a
schedule also writes its tasks to a Chrome trace file, then draws every
traced section as an SVG Gantt chart (one row per worker, one bar per task):
target/timelines/NN-name-rust.json and NN-name-rust-K.svg. With --python,
the lesson's Python twin too (NN-name-python-K.svg), so that CPython's pools
and the Rust ones can be seen side by side. The JSON opens in Perfetto
(ui.perfetto.dev) or chrome://tracing.";

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
cargo xtask bench [FIGURE...] [--quick] [--samples N] [--publish] [--redraw]
                  [--no-peers] [--no-sweeps]

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
  --no-sweeps     skip the sweeps (how cost grows with size, workers, task
                  length and memory); naming figures skips them too
  FIGURE          only these figures (see the list below)";

pub const CODEGEN_HELP: &str = "\
cargo xtask codegen [--check]

Writes the parts of the course that follow from its folders and their
metadata, each between its two marker lines: the [[bin]] list of
exercises/Cargo.toml, the README's lessons, reading-times and exercises
tables, and each lesson README's list of exercises. Run it after adding or
renaming a lesson or an exercise, or editing a lesson's README or source.

  --check       write nothing; fail and name each file that is out of date";

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
#[derive(Debug)]
pub struct Usage(pub String);

pub type Outcome = Result<ExitCode, Usage>;

/// One command of `cargo xtask`, declared once: its help, the options it
/// takes (the help must name each, and a test checks that it does), how
/// many names it takes, and the function that runs it.
pub struct Command {
    pub name: &'static str,
    pub help: fn() -> String,
    /// Options without a value (`--all`).
    pub switches: &'static [&'static str],
    /// Options with a value (`--repeat N` or `--repeat=N`).
    pub options: &'static [&'static str],
    /// At most this many names (lessons, exercises, figures): `None`, any.
    pub max_names: Option<usize>,
    /// What the names are, for the message when there are too many.
    pub names_are: &'static str,
    pub run: fn(Args) -> Outcome,
}

/// Every command, in the order the help lists them.
pub const COMMANDS: &[Command] = &[
    Command {
        name: "verify",
        help: || VERIFY_HELP.into(),
        switches: &[],
        options: &["--repeat", "--goldens"],
        max_names: None,
        names_are: "lessons",
        run: commands::verify::cmd_verify,
    },
    Command {
        name: "bless",
        help: || BLESS_HELP.into(),
        switches: &[],
        options: &["--runs"],
        max_names: None,
        names_are: "lessons",
        run: commands::bless::cmd_bless,
    },
    Command {
        name: "list",
        help: || LIST_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(0),
        names_are: "arguments",
        run: commands::list::cmd_list,
    },
    Command {
        name: "run",
        help: || RUN_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(1),
        names_are: "lesson",
        run: commands::run::cmd_run,
    },
    Command {
        name: "compare",
        help: || COMPARE_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(1),
        names_are: "lesson",
        run: commands::compare::cmd_compare,
    },
    Command {
        name: "bench",
        help: bench_help,
        switches: &[
            "--quick",
            "--publish",
            "--redraw",
            "--no-peers",
            "--no-sweeps",
        ],
        options: &["--samples"],
        max_names: None,
        names_are: "figures",
        run: commands::bench::cmd_bench,
    },
    Command {
        name: "check",
        help: || CHECK_HELP.into(),
        switches: &["--all", "--solutions"],
        options: &[],
        max_names: None,
        names_are: "exercises",
        run: commands::check::cmd_check,
    },
    Command {
        name: "hint",
        help: || HINT_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(1),
        names_are: "exercise",
        run: commands::hint::cmd_hint,
    },
    Command {
        name: "progress",
        help: || PROGRESS_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(0),
        names_are: "arguments",
        run: commands::progress::cmd_progress,
    },
    Command {
        name: "watch",
        help: || WATCH_HELP.into(),
        switches: &[],
        options: &[],
        max_names: Some(0),
        names_are: "arguments",
        run: commands::watch::cmd_watch,
    },
    Command {
        name: "codegen",
        help: || CODEGEN_HELP.into(),
        switches: &["--check"],
        options: &[],
        max_names: Some(0),
        names_are: "arguments",
        run: commands::codegen::cmd_codegen,
    },
    Command {
        name: "timeline",
        help: || TIMELINE_HELP.into(),
        switches: &["--python"],
        options: &[],
        max_names: Some(1),
        names_are: "lesson",
        run: commands::timeline::cmd_timeline,
    },
];

/// A command's arguments, parsed against its declaration.
#[derive(Debug, Default)]
pub struct Args {
    /// The names given (lessons, exercises, figures), in order.
    pub names: Vec<String>,
    switches: Vec<&'static str>,
    values: Vec<(&'static str, String)>,
}

impl Args {
    /// True if the switch `flag` was given.
    pub fn has(&self, flag: &str) -> bool {
        self.switches.contains(&flag)
    }

    /// The last value given for `flag`.
    pub fn value(&self, flag: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(f, _)| *f == flag)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `flag` as a whole number above 0, or `default`.
    pub fn count(&self, flag: &str, default: u32) -> Result<u32, Usage> {
        match self.value(flag) {
            None => Ok(default),
            Some(v) => {
                v.parse().ok().filter(|&n: &u32| n > 0).ok_or_else(|| {
                    Usage(format!("`{flag}` takes a whole number above 0, not `{v}`"))
                })
            }
        }
    }
}

impl Command {
    /// Splits `args` into names, switches and option values, refusing what
    /// the command does not declare.
    pub fn parse(&self, args: &[String]) -> Result<Args, Usage> {
        let mut parsed = Args::default();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if !arg.starts_with('-') {
                parsed.names.push(arg.clone());
                continue;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f, Some(v.to_string())),
                None => (arg.as_str(), None),
            };
            if let Some(switch) = self.switches.iter().find(|s| **s == flag) {
                if inline.is_some() {
                    return Err(Usage(format!("`{flag}` takes no value")));
                }
                parsed.switches.push(switch);
            } else if let Some(option) = self.options.iter().find(|o| **o == flag) {
                let value = match inline {
                    Some(v) => v,
                    None => iter
                        .next()
                        .cloned()
                        .ok_or_else(|| Usage(format!("`{flag}` needs a value")))?,
                };
                parsed.values.push((option, value));
            } else {
                return Err(Usage(format!("unknown option `{flag}`")));
            }
        }
        match self.max_names {
            Some(0) if !parsed.names.is_empty() => Err(Usage(format!(
                "{} takes no arguments, got `{}`",
                self.name, parsed.names[0]
            ))),
            Some(max) if parsed.names.len() > max => Err(Usage(format!(
                "{} takes at most {} {}",
                self.name,
                if max == 1 { "one" } else { "a few" },
                self.names_are
            ))),
            _ => Ok(parsed),
        }
    }

    /// Prints the help on `--help` or `-h`, or else parses and runs.
    pub fn dispatch(&self, args: &[String]) -> Outcome {
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!("{}", (self.help)());
            return Ok(ExitCode::SUCCESS);
        }
        (self.run)(self.parse(args)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `--flag`s a help text names.
    fn named_flags(help: &str) -> Vec<String> {
        let mut flags: Vec<String> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(str::to_string)
            .collect();
        flags.sort();
        flags.dedup();
        flags.retain(|f| f != "--help");
        flags
    }

    #[test]
    fn every_flag_a_help_names_is_accepted_and_every_accepted_flag_is_named() {
        for command in COMMANDS {
            let help = (command.help)();
            let named = named_flags(&help);
            let mut declared: Vec<String> = command
                .switches
                .iter()
                .chain(command.options)
                .map(|f| f.to_string())
                .collect();
            declared.sort();
            assert_eq!(
                named, declared,
                "{}: its help and its declaration",
                command.name
            );
            for flag in &named {
                let args = if command.options.contains(&flag.as_str()) {
                    vec![flag.clone(), "1".into()]
                } else {
                    vec![flag.clone()]
                };
                assert!(
                    command.parse(&args).is_ok(),
                    "{}: `{flag}` is in its help but refused",
                    command.name
                );
            }
            assert!(
                HELP.contains(&format!("\n  {}", command.name)),
                "the top-level help lists `{}`",
                command.name
            );
        }
    }

    #[test]
    fn parse_refuses_what_is_not_declared() {
        let verify = COMMANDS.iter().find(|c| c.name == "verify").unwrap();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let parsed = verify
            .parse(&args(&["01", "--repeat=3", "--goldens", "d"]))
            .ok()
            .unwrap();
        assert_eq!(parsed.names, ["01"]);
        assert_eq!(parsed.count("--repeat", 1).ok(), Some(3));
        assert_eq!(parsed.value("--goldens"), Some("d"));
        assert!(verify.parse(&args(&["--fast"])).is_err());
        let check = COMMANDS.iter().find(|c| c.name == "check").unwrap();
        assert!(check.parse(&args(&["--all=1"])).is_err());
        assert!(check.parse(&args(&["--all"])).unwrap().has("--all"));
    }
}
