//! `cargo xtask list` and `cargo xtask run`: the lessons, and a tour of them.

use std::process::ExitCode;
use std::time::Duration;

use harness::runner;
use harness::workspace;

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Outcome, Usage, parse_args};

pub fn cmd_list(args: &[String]) -> Outcome {
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

pub fn cmd_run(args: &[String]) -> Outcome {
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
        let status = runner::run_attached(&binary_for(&binaries, lesson), Duration::from_secs(120));
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
