//! `cargo xtask`: the course's tooling. Run `cargo xtask --help`.
//!
//! This file only dispatches: the command line is declared in `flags.rs`,
//! each command lives in `commands/`, the measurements in `bench/`, and
//! what the tests share with the commands (runner, golden format, verify)
//! in the `course-harness` crate.

mod bench;
mod commands;
mod exercises;
mod flags;

use std::process::ExitCode;

use flags::{HELP, Usage, with_help};

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
        "verify" => with_help(rest, flags::VERIFY_HELP, commands::verify::cmd_verify),
        "bless" => with_help(rest, flags::BLESS_HELP, commands::bless::cmd_bless),
        "list" => with_help(rest, flags::LIST_HELP, commands::tour::cmd_list),
        "run" => with_help(rest, flags::RUN_HELP, commands::tour::cmd_run),
        "compare" => with_help(rest, flags::COMPARE_HELP, commands::compare::cmd_compare),
        "bench" => with_help(rest, &flags::bench_help(), commands::bench::cmd_bench),
        "check" => with_help(rest, flags::CHECK_HELP, commands::practise::cmd_check),
        "hint" => with_help(rest, flags::HINT_HELP, commands::practise::cmd_hint),
        "progress" => with_help(rest, flags::PROGRESS_HELP, commands::practise::cmd_progress),
        "watch" => with_help(rest, flags::WATCH_HELP, commands::practise::cmd_watch),
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
