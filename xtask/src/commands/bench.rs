//! `cargo xtask bench`: parse the options, run or redraw, print the table.

use std::process::ExitCode;

use crate::bench::figures::FIGURES;
use crate::bench::run;
use crate::flags::{Args, Outcome, Usage};

pub fn cmd_bench(args: Args) -> Outcome {
    // A quick run takes 3 samples of each unless told otherwise.
    let quick = args.has("--quick");
    let samples = args.count("--samples", if quick { 3 } else { 5 })? as usize;
    let options = run::Options {
        quick,
        samples,
        // The sweeps run with the whole bench, not when figures are named.
        sweeps: args.names.is_empty() && !args.has("--no-sweeps"),
        only: args.names.clone(),
        publish: args.has("--publish"),
        peers: !args.has("--no-peers"),
    };
    if let Some(unknown) = options
        .only
        .iter()
        .find(|n| !FIGURES.iter().any(|f| f.name == n.as_str()))
    {
        let known: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        return Err(Usage(format!(
            "no figure named `{unknown}`; the figures are: {}",
            known.join(", ")
        )));
    }
    let outcome = if args.has("--redraw") {
        run::redraw(options.publish)
    } else {
        run::run(&options)
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
