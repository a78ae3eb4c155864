//! Running the measuring programs: one sample of a figure or a sweep point
//! (`bench`, `bench.py`, `bench-peers`, each in its own
//! process group under a timeout), the sweeps' sampling loop, and the build
//! of the peers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use harness::runner;
use harness::workspace;

use crate::bench::figures::{self, FIGURES};
use crate::bench::sweeps;

/// The programs a sweep point may run.
pub struct Programs<'a> {
    pub bench: &'a Path,
    pub script: &'a Path,
    pub python: bool,
    pub peers: Result<&'a PathBuf, String>,
    pub peer_tmp: &'a Path,
}

/// Measures one sweep: at each x, each curve in turn, `samples` rounds
/// (3, or 1 with `quick`), interleaved; the median of each.
pub fn run_sweep(
    sweep: &sweeps::Sweep,
    programs: &Programs,
    quick: bool,
    redraw: bool,
) -> sweeps::Measured {
    use sweeps::Program;
    let started = std::time::Instant::now();
    let xs = sweep.xs(quick);
    let rounds = if quick { 1 } else { 3 };
    let mut values = vec![vec![None; xs.len()]; sweep.curves.len()];
    let mut failures: Vec<Option<String>> = vec![None; sweep.curves.len()];
    for (i, &x) in xs.iter().enumerate() {
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); sweep.curves.len()];
        for round in 0..rounds {
            for (k, curve) in sweep.curves.iter().enumerate() {
                if failures[k].is_some() {
                    continue;
                }
                if redraw {
                    eprint!(
                        "\r[sweep {}] {} {}/{} {:<24}   ",
                        sweep.name,
                        x,
                        round + 1,
                        rounds,
                        curve.label
                    );
                }
                let count = sweep.count(x, curve, quick).to_string();
                let parameter = sweep.parameter(x, curve);
                let outcome = match curve.program {
                    Program::Bench(implementation) => measure(
                        programs.bench,
                        &[
                            sweep.program_sweep.into(),
                            implementation.into(),
                            count,
                            parameter,
                        ],
                        &[],
                    ),
                    Program::Python(_) if !programs.python => Err("python3 not found".into()),
                    Program::Python(name) => measure(
                        Path::new("python3"),
                        &[
                            programs.script.display().to_string(),
                            name.into(),
                            count,
                            parameter,
                        ],
                        &[],
                    ),
                    Program::Peer(peer) => match &programs.peers {
                        Ok(binary) => measure(
                            binary,
                            &[sweep.program_sweep.into(), peer.into(), count, parameter],
                            &[("COURSE_BENCH_TMP", programs.peer_tmp.display().to_string())],
                        ),
                        Err(why) => Err(why.clone()),
                    },
                };
                match outcome {
                    Ok(seconds) => samples[k].push(sweep.value(x, seconds)),
                    Err(why) => failures[k] = Some(why),
                }
            }
        }
        for (k, s) in samples.iter().enumerate() {
            values[k][i] = figures::summarise(s).map(|summary| summary.median);
        }
    }
    if !redraw {
        eprintln!(
            "[sweep {}] {} points of {} curves in {:.1} s",
            sweep.name,
            xs.len(),
            sweep.curves.len(),
            started.elapsed().as_secs_f64()
        );
    }
    sweeps::Measured {
        sweep: *sweep,
        xs,
        values,
        failures,
    }
}

/// Runs one measuring program (in its own process group, killed after 5
/// minutes, with `env` added) and reads the number it prints.
pub fn measure(program: &Path, args: &[String], env: &[(&str, String)]) -> Result<f64, String> {
    let conditions = runner::Conditions {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        ..runner::Conditions::default()
    };
    let run = runner::run_with(program, args, Duration::from_secs(300), &conditions)
        .map_err(|e| format!("could not start {}: {e}", program.display()))?;
    if run.timed_out {
        return Err("timed out".into());
    }
    // A helper left behind (CPython's resource tracker, with spawn) was
    // killed with the group: that is the program's business, not a failure.
    if run.exit != 0 {
        let first = run
            .stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!("failed (exit {}): {first}", run.exit));
    }
    run.stdout
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("printed `{}`, not a number", run.stdout.trim()))
}

/// Builds `bench/peers` (its own workspace: the peers' hundred crates stay
/// out of every other build) in release mode, and checks that it measures
/// the pairs [`FIGURES`] names. A failed build costs the peer columns only.
pub fn build_peers() -> Result<PathBuf, String> {
    let manifest = workspace::root().join("bench/peers/Cargo.toml");
    let target = workspace::target_dir().join("bench-peers");
    eprintln!("$ cargo build --release --manifest-path bench/peers/Cargo.toml (the peer crates)");
    let output = workspace::cargo()
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !output.status.success() {
        eprintln!("note: bench/peers did not build (see above): the peer columns stay empty");
        return Err("bench/peers did not build".into());
    }
    let binary = target.join("release").join("bench-peers");
    let listed = Command::new(&binary)
        .arg("--list")
        .output()
        .map_err(|e| format!("could not run {}: {e}", binary.display()))?;
    let listed: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = FIGURES
        .iter()
        .flat_map(|f| f.peers.iter().map(move |p| format!("{} {p}", f.name)))
        .collect();
    if listed != expected {
        return Err(format!(
            "bench-peers --list disagrees with xtask's FIGURES: {listed:?} against {expected:?}"
        ));
    }
    Ok(binary)
}
