//! `cargo xtask run`: the lessons in order, as a tour.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use harness::runner;

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Args, Outcome};

pub fn cmd_run(args: Args) -> Outcome {
    let lessons = selected(&args.names)?;
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    // On a terminal, a tour: a pause after each lesson. Piped or in a log,
    // straight through.
    let pause =
        lessons.len() > 1 && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    for (i, lesson) in lessons.iter().enumerate() {
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
        println!();
        println!(
            "<<< Read it beside lessons/{}/README.md and its src/main.rs.",
            lesson.name
        );
        let exercises = exercise_ids(&lesson.name);
        if !exercises.is_empty() {
            println!(
                "    Then practise: cargo xtask check {} (hints: cargo xtask hint)",
                exercises.join(", ")
            );
        }
        if pause && i + 1 < lessons.len() && !wait_for_enter(&lessons[i + 1].name) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The ids of the lesson's exercises (`02.1`, ...), from `exercises/`.
fn exercise_ids(lesson: &str) -> Vec<String> {
    crate::exercises::all()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.lesson == lesson)
        .map(|e| e.id)
        .collect()
}

/// Asks for Enter before the next lesson; false if the learner typed q (or
/// stdin ended).
fn wait_for_enter(next: &str) -> bool {
    print!("\nEnter: lesson {next}, q then Enter: stop the tour. ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    match std::io::stdin().read_line(&mut answer) {
        Ok(0) | Err(_) => false,
        Ok(_) => !answer.trim().eq_ignore_ascii_case("q"),
    }
}
