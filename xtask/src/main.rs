//! `cargo xtask`: the course's tooling. Run `cargo xtask --help`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use xtask::bless;
use xtask::golden;
use xtask::runner;
use xtask::verify::{self, Failure};
use xtask::workspace::{self, Lesson};

const HELP: &str = "\
cargo xtask: the course's tooling

Usage: cargo xtask <COMMAND> [ARGS]

Commands:
  verify [LESSON...] [--repeat N] [--goldens DIR]
                  run each lesson and check its output against its golden file
  bless [LESSON...] [--runs N]
                  write golden files from N runs (20 by default) that agree
  list            the lessons, with what each teaches and the Python it ports
  run [LESSON]    run the lessons in order, as a tour (or just one)
  compare [LESSON]
                  run a lesson's Python twin and the Rust lesson, side by side
  bench [FIGURE...] [--quick] [--samples N] [--publish]
                  measure every primitive against raw libc and CPython
  help            this text

A LESSON is named by its number (01 or 1), its folder (01-threads-vs-processes),
the folder without the number, or its package name.
Run `cargo xtask <COMMAND> --help` for more on one command.";

const VERIFY_HELP: &str = "\
cargo xtask verify [LESSON...] [--repeat N] [--goldens DIR]

Builds the lessons, runs each one in its own process group (stdin null, killed
as a group at the golden's timeout), and checks exit status, stdout and stderr
against lessons/NN-name/golden.stdout (and golden.stderr, if present; without
it stderr must be empty). A lesson that leaves a process running fails.

  --repeat N      run every lesson N times (default 1): flaky goldens show up
  --goldens DIR   read DIR/NN-name/golden.stdout instead of the lesson's own

Ends with `N passed, M failed`; exits 0 only if nothing failed. Raw output of
failed runs is saved under the target directory, in xtask/verify/.";

const BLESS_HELP: &str = "\
cargo xtask bless [LESSON...] [--runs N]

Runs each lesson N times (default 20) and writes its golden file, keeping every
hole and any-order block the current golden has and turning pids, durations
and addresses of new lines into holes. Writes only if every run calls for the
same golden; otherwise writes nothing and lists the lines that varied, for you
to decide: a hole, an any-order block, or a bug in the lesson.
Refuses to run when CI is set: CI checks goldens, it never writes them.";

const COMPARE_HELP: &str = "\
cargo xtask compare [LESSON]

Runs the lesson's Python twin (lessons/NN-name/python/lesson.py, with python3)
and the Rust lesson, and shows both outputs side by side (one after the other
on a terminal narrower than 160 columns), each with its total time. Without
LESSON, every lesson in turn.";

const BENCH_HELP: &str = "\
cargo xtask bench [FIGURE...] [--quick] [--samples N] [--publish] [--redraw]

Builds bench/ in release mode and measures each figure three ways, sample
after sample, interleaved: ours (the multiproc crate), raw (the same work on
libc: the floor), and CPython (bench/python/bench.py). Prints a table of
medians with min-max and ratios, and writes target/bench/report.md,
report.json and chart.svg (log scale).

  --quick         fewer operations per sample (a short run)
  --samples N     samples of each after one warm-up (default 5)
  --publish       also copy report.md and chart.svg to docs/bench/
  --redraw        measure nothing: draw report.md and chart.svg again from
                  the last run's target/bench/report.json
  FIGURE          only these figures: fork spawn thread pipe-rtt pipe-msgs
                  pipe-mib queue queue3 mqueue mdict imap1 imap100 imapu1
                  imapu100 fib-threads fib-procs";

const LIST_HELP: &str =
    "cargo xtask list\n\nPrints each lesson with what it teaches and the Python it ports.";
const RUN_HELP: &str =
    "cargo xtask run [LESSON]\n\nRuns every lesson in order, as a tour, or only LESSON.";

fn main() -> ExitCode {
    runner::become_subreaper();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    let rest = rest.to_vec();
    let result = match command.as_str() {
        "verify" => with_help(&rest, VERIFY_HELP, cmd_verify),
        "bless" => with_help(&rest, BLESS_HELP, cmd_bless),
        "list" => with_help(&rest, LIST_HELP, cmd_list),
        "run" => with_help(&rest, RUN_HELP, cmd_run),
        "compare" => with_help(&rest, COMPARE_HELP, cmd_compare),
        "bench" => with_help(&rest, BENCH_HELP, cmd_bench),
        "help" | "--help" | "-h" => {
            println!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Usage(format!("unknown command `{other}`"))),
    };
    match result {
        Ok(code) => code,
        Err(Usage(message)) => {
            eprintln!("error: {message}");
            eprintln!("Run `cargo xtask --help` for the commands and their options.");
            ExitCode::from(2)
        }
    }
}

/// A usage error: exit 2 with the message.
struct Usage(String);

type Outcome = Result<ExitCode, Usage>;

fn with_help(args: &[String], help: &str, command: fn(&[String]) -> Outcome) -> Outcome {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{help}");
        return Ok(ExitCode::SUCCESS);
    }
    command(args)
}

/// `(flag, value)` pairs, in the order given.
type OptionValues = Vec<(String, String)>;

/// Splits arguments into lesson names and the values of the given options.
fn parse_args(args: &[String], options: &[&str]) -> Result<(Vec<String>, OptionValues), Usage> {
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

fn count_option(values: &[(String, String)], flag: &str, default: u32) -> Result<u32, Usage> {
    match values.iter().rev().find(|(f, _)| f == flag) {
        None => Ok(default),
        Some((_, v)) => v
            .parse()
            .ok()
            .filter(|&n: &u32| n > 0)
            .ok_or_else(|| Usage(format!("`{flag}` takes a whole number above 0, not `{v}`"))),
    }
}

fn selected(names: &[String]) -> Result<Vec<Lesson>, Usage> {
    let all = workspace::lessons().map_err(Usage)?;
    workspace::select(&all, names).map_err(Usage)
}

fn binary_for(binaries: &workspace::Binaries, lesson: &Lesson) -> PathBuf {
    binaries
        .iter()
        .find(|(name, _)| *name == lesson.package)
        .map(|(_, path)| path.clone())
        .expect("build() checked every lesson has a binary")
}

fn build_or_fail(lessons: &[Lesson]) -> Result<workspace::Binaries, ExitCode> {
    workspace::build(lessons, false).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}

fn cmd_verify(args: &[String]) -> Outcome {
    let (names, values) = parse_args(args, &["--repeat", "--goldens"])?;
    let repeat = count_option(&values, "--repeat", 1)?;
    let goldens: Option<PathBuf> = values
        .iter()
        .rev()
        .find(|(f, _)| f == "--goldens")
        .map(|(_, v)| v.into());
    let lessons = selected(&names)?;
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let saved_under = workspace::target_dir().join("xtask").join("verify");
    let (mut passed, mut failed) = (0u32, 0u32);
    let started = Instant::now();
    for round in 1..=repeat {
        let mut slowest = Duration::ZERO;
        for lesson in &lessons {
            let binary = binary_for(&binaries, lesson);
            match verify::verify_lesson(lesson, &binary, goldens.as_deref()) {
                Ok(took) => {
                    passed += 1;
                    slowest = slowest.max(took);
                    if repeat == 1 {
                        println!("ok    {} ({took:.1?})", lesson.name);
                    }
                }
                Err(failure) => {
                    failed += 1;
                    report_failure(lesson, &failure, &saved_under, round);
                }
            }
        }
        if repeat > 1 {
            println!(
                "round {round}/{repeat}: {passed} passed, {failed} failed so far (slowest lesson {slowest:.1?})"
            );
        }
    }
    println!("verify took {:.1?}", started.elapsed());
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn report_failure(lesson: &Lesson, failure: &Failure, saved_under: &Path, round: u32) {
    println!("FAIL  {failure}");
    if let Some(run) = &failure.run {
        let dir = saved_under.join(&lesson.name);
        let stem = dir.join(format!("round-{round}"));
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(stem.with_extension("stdout"), &run.stdout))
            .and_then(|()| std::fs::write(stem.with_extension("stderr"), &run.stderr));
        match saved {
            Ok(()) => println!("      raw output: {}.{{stdout,stderr}}", stem.display()),
            Err(e) => println!(
                "      (could not save the raw output under {}: {e})",
                dir.display()
            ),
        }
    }
}

fn cmd_bless(args: &[String]) -> Outcome {
    let (names, values) = parse_args(args, &["--runs"])?;
    let runs = count_option(&values, "--runs", 20)?;
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "error: bless refuses to run when CI is set: CI checks golden files, it never writes them."
        );
        return Ok(ExitCode::FAILURE);
    }
    let lessons = selected(&names)?;
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let mut all_written = true;
    for lesson in &lessons {
        all_written &= bless_lesson(lesson, &binary_for(&binaries, lesson), runs);
    }
    Ok(if all_written {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bless_lesson(lesson: &Lesson, binary: &Path, runs: u32) -> bool {
    let read = |path: &Path| -> Result<Option<golden::Golden>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => golden::parse(&text)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(_) => Ok(None),
        }
    };
    let (stdout_path, stderr_path) = (lesson.golden_stdout(None), lesson.golden_stderr(None));
    let (existing_out, existing_err) = match (read(&stdout_path), read(&stderr_path)) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(e), _) | (_, Err(e)) => {
            println!("FAIL  {}: {e}; fix the golden by hand first", lesson.name);
            return false;
        }
    };
    let timeout = existing_out
        .as_ref()
        .map_or(Duration::from_secs(30), |g| g.timeout);
    let args = existing_out
        .as_ref()
        .map(|g| g.args.clone())
        .unwrap_or_default();
    let (mut outs, mut errs) = (Vec::new(), Vec::new());
    for n in 1..=runs {
        eprint!("\rbless {}: run {n}/{runs}", lesson.name);
        let run = match runner::run(binary, &args, timeout) {
            Ok(run) => run,
            Err(e) => {
                println!(
                    "\nFAIL  {}: could not start {}: {e}",
                    lesson.name,
                    binary.display()
                );
                return false;
            }
        };
        if run.timed_out || !run.leaked.is_empty() {
            let why = if run.timed_out {
                "timed out"
            } else {
                "leaked a child process"
            };
            println!("\nFAIL  {}: run {n} {why}; nothing written", lesson.name);
            return false;
        }
        outs.push(bless::golden_for(
            existing_out.as_ref(),
            &run.stdout,
            run.exit,
        ));
        errs.push(bless::golden_for(existing_err.as_ref(), &run.stderr, 0));
    }
    eprintln!();
    let (out_text, err_text) = match (bless::agree(&outs), bless::agree(&errs)) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(varied), _) | (_, Err(varied)) => {
            println!(
                "FAIL  {}: the runs disagree; nothing written. Lines that varied:",
                lesson.name
            );
            for line in varied.iter().take(20) {
                println!("      {line}");
            }
            println!("      Decide for each: a hole, an any-order block, or a bug in the lesson.");
            return false;
        }
    };
    let write = |path: &Path, text: &str| -> bool {
        let before = std::fs::read_to_string(path).ok();
        if before.as_deref() == Some(text) {
            println!("same  {}", path.display());
            return true;
        }
        match std::fs::write(path, text) {
            Ok(()) => {
                println!("wrote {}", path.display());
                true
            }
            Err(e) => {
                println!("FAIL  cannot write {}: {e}", path.display());
                false
            }
        }
    };
    let mut ok = write(&stdout_path, &out_text);
    if err_text.trim().is_empty() {
        if stderr_path.exists() && std::fs::remove_file(&stderr_path).is_ok() {
            println!(
                "removed {} (stderr was empty in every run)",
                stderr_path.display()
            );
        }
    } else {
        ok &= write(&stderr_path, &err_text);
    }
    ok
}

fn cmd_list(args: &[String]) -> Outcome {
    if let Some(extra) = args.first() {
        return Err(Usage(format!("list takes no arguments, got `{extra}`")));
    }
    let lessons = workspace::lessons().map_err(Usage)?;
    for lesson in &lessons {
        println!("{}  {}", lesson.name, lesson.title);
        println!("    Python: {}", lesson.python);
        println!("    cargo run -p {}", lesson.package);
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_run(args: &[String]) -> Outcome {
    let (names, _) = parse_args(args, &[])?;
    if names.len() > 1 {
        return Err(Usage("run takes at most one lesson".into()));
    }
    let lessons = selected(&names)?;
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    for lesson in &lessons {
        println!();
        println!(
            ">>> {}: {} (cargo run -p {})",
            lesson.name, lesson.title, lesson.package
        );
        println!();
        let status = run_attached(&binary_for(&binaries, lesson), Duration::from_secs(120));
        match status {
            Ok(0) => {}
            Ok(code) => {
                eprintln!("error: lesson {} exited with status {code}", lesson.name);
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                eprintln!("error: lesson {}: {e}", lesson.name);
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a lesson on this terminal, in its own process group, killing the
/// group if it runs past `timeout`.
fn run_attached(binary: &Path, timeout: Duration) -> Result<i32, String> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let mut child = Command::new(binary)
        .stdin(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status
                .code()
                .unwrap_or_else(|| -status.signal().unwrap_or(0)));
        }
        if Instant::now() >= deadline {
            // Safety: kill takes plain integers; a negative pid names a group.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            return Err(format!(
                "still running after {timeout:?}: its process group was killed"
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cmd_bench(args: &[String]) -> Outcome {
    const FLAGS: [&str; 3] = ["--quick", "--publish", "--redraw"];
    let flags: Vec<&String> = args
        .iter()
        .filter(|a| FLAGS.contains(&a.as_str()))
        .collect();
    let rest: Vec<String> = args
        .iter()
        .filter(|a| !FLAGS.contains(&a.as_str()))
        .cloned()
        .collect();
    let (names, values) = parse_args(&rest, &["--samples"])?;
    let samples = count_option(&values, "--samples", 5)? as usize;
    let options = xtask::bench_run::Options {
        quick: flags.iter().any(|f| *f == "--quick"),
        samples,
        only: names,
        publish: flags.iter().any(|f| *f == "--publish"),
    };
    if let Some(unknown) = options
        .only
        .iter()
        .find(|n| !xtask::bench::FIGURES.iter().any(|f| f.name == n.as_str()))
    {
        let known: Vec<&str> = xtask::bench::FIGURES.iter().map(|f| f.name).collect();
        return Err(Usage(format!(
            "no figure named `{unknown}`; the figures are: {}",
            known.join(", ")
        )));
    }
    let outcome = if flags.iter().any(|f| *f == "--redraw") {
        xtask::bench_run::redraw(options.publish)
    } else {
        xtask::bench_run::run(&options)
    };
    match outcome {
        Ok(table) => {
            println!("{table}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn cmd_compare(args: &[String]) -> Outcome {
    let (names, _) = parse_args(args, &[])?;
    if names.len() > 1 {
        return Err(Usage("compare takes at most one lesson".into()));
    }
    let lessons = selected(&names)?;
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("error: python3 was not found. compare runs each lesson's Python twin with it:");
        eprintln!(
            "install Python 3.8 or later (on Debian or Ubuntu: sudo apt-get install python3)."
        );
        return Ok(ExitCode::FAILURE);
    }
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let width = terminal_width();
    for lesson in &lessons {
        let script = lesson.dir.join("python").join("lesson.py");
        if !script.exists() {
            eprintln!(
                "error: lesson {} has no Python twin at {}",
                lesson.name,
                script.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        let python = runner::run(
            Path::new("python3"),
            &[script.display().to_string()],
            Duration::from_secs(120),
        );
        let rust = runner::run(
            &binary_for(&binaries, lesson),
            &[],
            Duration::from_secs(120),
        );
        let (python, rust) = match (python, rust) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: could not run lesson {}: {e}", lesson.name);
                return Ok(ExitCode::FAILURE);
            }
        };
        let left_title = format!(
            "Python: python3 {} ({:.2?}, exit {})",
            relative(&script),
            python.elapsed,
            python.exit
        );
        let right_title = format!(
            "Rust: cargo run -p {} ({:.2?}, exit {})",
            lesson.package, rust.elapsed, rust.exit
        );
        let left = with_stderr(&python);
        let right = with_stderr(&rust);
        println!();
        println!(">>> {}: {}", lesson.name, lesson.title);
        print!(
            "{}",
            xtask::compare::render(&left_title, &left, &right_title, &right, width)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn with_stderr(run: &runner::Run) -> String {
    if run.stderr.trim().is_empty() {
        run.stdout.clone()
    } else {
        format!("{}[stderr]\n{}", run.stdout, run.stderr)
    }
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The terminal's width in columns: `$COLUMNS`, else the tty's, else 80.
fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return columns;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // Safety: TIOCGWINSZ writes a winsize into `size`, a valid local.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        size.ws_col as usize
    } else {
        80
    }
}
