//! `cargo xtask bless`: write golden files from runs that agree. The
//! decisions are `harness::golden::bless`'s; this is the files and the
//! messages.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use harness::golden::bless;
use harness::runner;
use harness::verify;
use harness::workspace::Lesson;

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Args, Outcome};

pub fn cmd_bless(args: Args) -> Outcome {
    let runs = args.count("--runs", 20)?;
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        eprintln!(
            "error: bless refuses to run when CI is set: CI checks golden files, it never writes them."
        );
        return Ok(ExitCode::FAILURE);
    }
    let lessons = selected(&args.names)?;
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
    let read = verify::read_golden;
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
        if std::io::stderr().is_terminal() {
            eprint!("\rbless {}: run {n}/{runs}", lesson.name);
        }
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
