//! `cargo xtask progress`: every exercise and its status.

use std::process::ExitCode;

use super::check::catalogue;
use crate::exercises::progress::{Progress, Status};
use crate::flags::{Args, Outcome};

pub fn cmd_progress(_: Args) -> Outcome {
    let all = catalogue()?;
    let progress = Progress::load();
    let current = progress.current(&all).map(|e| e.id.clone());
    let solved = all
        .iter()
        .filter(|e| progress.status(e) == Status::Solved)
        .count();
    println!(
        "{:<3} {:<5} {:<24} {:<23} lesson",
        "", "id", "exercise", "status"
    );
    for exercise in &all {
        let marker = if current.as_deref() == Some(exercise.id.as_str()) {
            "->"
        } else {
            ""
        };
        println!(
            "{marker:<3} {:<5} {:<24} {:<23} {}",
            exercise.id,
            exercise.name,
            progress.status(exercise).label(),
            exercise.lesson
        );
    }
    println!("{solved} of {} solved", all.len());
    Ok(ExitCode::SUCCESS)
}
