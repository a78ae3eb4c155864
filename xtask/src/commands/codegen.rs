//! `cargo xtask codegen`: write what follows from the course's folders
//! (`harness::codegen` says what), or with `--check` say what is stale.

use std::process::ExitCode;

use harness::codegen;
use harness::workspace::shown;

use crate::flags::{Args, Outcome};

pub fn cmd_codegen(args: Args) -> Outcome {
    let files = match codegen::files() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let stale: Vec<_> = files.iter().filter(|f| f.changed).collect();
    if args.has("--check") {
        for file in &stale {
            eprintln!(
                "{} is out of date: run `cargo xtask codegen`",
                shown(&file.path)
            );
        }
        return Ok(if stale.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    for file in &stale {
        if let Err(e) = std::fs::write(&file.path, &file.text) {
            eprintln!("error: cannot write {}: {e}", shown(&file.path));
            return Ok(ExitCode::FAILURE);
        }
        println!("wrote {}", shown(&file.path));
    }
    if stale.is_empty() {
        println!("every generated part is up to date ({} files)", files.len());
    }
    Ok(ExitCode::SUCCESS)
}
