//! `cargo xtask hint`: the hint for an exercise.

use std::process::ExitCode;

use super::check::{catalogue, indent};
use crate::exercises::{self, progress::Progress};
use crate::flags::{Args, Outcome, Usage};

pub fn cmd_hint(args: Args) -> Outcome {
    let all = catalogue()?;
    let exercise = match args.names.as_slice() {
        [] => match Progress::load().current(&all) {
            Some(current) => current.clone(),
            None => {
                println!("Every exercise is solved: no hint needed.");
                return Ok(ExitCode::SUCCESS);
            }
        },
        [name, ..] => exercises::find(&all, name).map_err(Usage)?.clone(),
    };
    println!("Hint for exercise {} ({}):", exercise.id, exercise.name);
    println!("{}", indent(&exercise.hint()));
    for section in ["When it races", "When it hangs"] {
        if let Some(text) = exercise.hint_section(section) {
            println!("{section}:\n{}", indent(&text));
        }
    }
    Ok(ExitCode::SUCCESS)
}
