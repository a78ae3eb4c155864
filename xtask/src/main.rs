//! `cargo xtask`: the course's tooling. Run `cargo xtask --help`.
//!
//! This file only dispatches: the command line is declared in `flags.rs`,
//! each command lives in `commands/`, in a file named after it, the measurements in `bench/`, and
//! what the tests share with the commands (runner, golden format, verify)
//! in the `harness` crate.

mod bench;
mod commands;
mod exercises;
mod flags;

use std::process::ExitCode;

use flags::{HELP, Usage};

fn main() -> ExitCode {
    // `cargo xtask list | head` should end quietly, as any command-line tool
    // does, not panic with "failed printing to stdout".
    // Safety: restores the default action of one signal; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    harness::runner::become_subreaper();
    harness::runner::kill_running_group_on_interrupt();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{HELP}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "help" | "--help" | "-h" => {
            println!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        name => match flags::COMMANDS.iter().find(|c| c.name == name) {
            Some(command) => command.dispatch(rest),
            None => Err(Usage(format!("unknown command `{name}`"))),
        },
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
