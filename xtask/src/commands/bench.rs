//! `cargo xtask bench`: parse the options, run or redraw, print the table.

use std::process::ExitCode;

use crate::bench::figures::FIGURES;
use crate::bench::run as bench_run;
use crate::flags::{Outcome, Usage, count_option, parse_args};

pub fn cmd_bench(args: &[String]) -> Outcome {
    const FLAGS: [&str; 5] = [
        "--quick",
        "--publish",
        "--redraw",
        "--no-peers",
        "--no-sweeps",
    ];
    if let Some(flag) = FLAGS
        .iter()
        .find(|flag| args.iter().any(|a| a.starts_with(&format!("{flag}="))))
    {
        return Err(Usage(format!("`{flag}` takes no value")));
    }
    let flags: Vec<&String> = args
        .iter()
        .filter(|a| FLAGS.contains(&a.as_str()))
        .collect();
    let rest: Vec<String> = args
        .iter()
        .filter(|a| !FLAGS.contains(&a.as_str()))
        .cloned()
        .collect();
    let (names, values) = parse_args(&rest, &["--samples"])?;
    // A quick run takes 3 samples of each unless told otherwise.
    let quick = flags.iter().any(|f| *f == "--quick");
    let samples = count_option(&values, "--samples", if quick { 3 } else { 5 })? as usize;
    let options = bench_run::Options {
        quick: flags.iter().any(|f| *f == "--quick"),
        samples,
        only: names,
        publish: flags.iter().any(|f| *f == "--publish"),
        peers: !flags.iter().any(|f| *f == "--no-peers"),
        sweeps: false,
    };
    // The sweeps run with the whole bench, not when figures are named.
    let options = bench_run::Options {
        sweeps: options.only.is_empty() && !flags.iter().any(|f| *f == "--no-sweeps"),
        ..options
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
    let outcome = if flags.iter().any(|f| *f == "--redraw") {
        bench_run::redraw(options.publish)
    } else {
        bench_run::run(&options)
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
