//! `cargo xtask watch`: check the current exercise at each save.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use super::check::{catalogue, check_one, indent};
use crate::exercises::progress::{Progress, Status, hash_of_source};
use crate::exercises::{Exercise, shown};
use crate::flags::{Args, Outcome};

pub fn cmd_watch(_: Args) -> Outcome {
    let all = catalogue()?;
    let mut progress = Progress::load();
    let commands = read_commands();
    loop {
        let Some(current) = progress.current(&all).cloned() else {
            println!("Every exercise is solved. Well done.");
            return Ok(ExitCode::SUCCESS);
        };
        // The file as it is checked: a save made while the check runs is
        // a change, and is checked next.
        let checked = hash_of_source(&current);
        if let Err(e) = check_one(&current, &mut progress, &all) {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
        if progress.status(&current) == Status::Solved {
            println!();
            continue;
        }
        println!(
            "\nWatching {}: save it to check again.{}",
            shown(&current.source()),
            if commands.is_some() {
                " Enter: check now, h: hint, q: quit."
            } else {
                " Ctrl-C to stop."
            }
        );
        match wait_for_change(&current, checked, commands.as_ref()) {
            Wake::Changed => {}
            Wake::Quit => return Ok(ExitCode::SUCCESS),
        }
    }
}

enum Wake {
    Changed,
    Quit,
}

/// Lines typed on the terminal, if stdin is one.
fn read_commands() -> Option<mpsc::Receiver<String>> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    Some(rx)
}

/// Waits until the file differs from what was checked (`checked`: its
/// hash then), or a command comes.
fn wait_for_change(
    exercise: &Exercise,
    checked: u64,
    commands: Option<&mpsc::Receiver<String>>,
) -> Wake {
    loop {
        if let Some(commands) = commands {
            match commands.recv_timeout(Duration::from_millis(300)) {
                Ok(command) if command == "q" => return Wake::Quit,
                Ok(command) if command == "h" => {
                    println!("{}", indent(&exercise.hint()));
                }
                Ok(_) => return Wake::Changed,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return Wake::Quit,
            }
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
        if hash_of_source(exercise) != checked {
            return Wake::Changed;
        }
    }
}
