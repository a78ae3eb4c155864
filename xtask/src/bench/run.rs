//! Running `cargo xtask bench`: the sampling loop, the machine's description,
//! the report files and the chart. The pure parts (statistics, rendering)
//! are in `bench.rs`, with their tests.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::bench::figures::{self as bench, Column, FIGURES, Figure, Row, Unit};
use crate::bench::sweeps;
use harness::runner;
use harness::workspace;

/// How one bench run goes.
pub struct Options {
    /// Fewer operations per sample (a short run).
    pub quick: bool,
    /// Samples of each column after the warm-up.
    pub samples: usize,
    /// Only these figures (all when empty).
    pub only: Vec<String>,
    /// Also copy the report and chart to `docs/bench/` (for the README).
    pub publish: bool,
    /// Build and measure the peer crates (`bench/peers`).
    pub peers: bool,
    /// Run the sweeps (how each cost grows with the work).
    pub sweeps: bool,
}

/// Runs the bench and writes its reports; returns the Markdown table.
pub fn run(options: &Options) -> Result<String, String> {
    let figures: Vec<Figure> = if options.only.is_empty() {
        FIGURES.to_vec()
    } else {
        options
            .only
            .iter()
            .map(|name| {
                FIGURES
                    .iter()
                    .find(|f| f.name == name)
                    .copied()
                    .ok_or_else(|| {
                        let known: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
                        format!(
                            "no figure named `{name}`; the figures are: {}",
                            known.join(", ")
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    let binaries = workspace::build_packages(&["course-bench"], true)?;
    let binary = binaries
        .into_iter()
        .next()
        .expect("build_packages checked it")
        .1;
    let script = workspace::root().join("bench/python/bench.py");
    let python = python_version();
    if python.is_none() {
        eprintln!(
            "note: python3 was not found, so the Python column stays empty (install python3 to fill it)"
        );
    }
    let peers = if options.peers && figures.iter().any(|f| !f.peers.is_empty()) {
        build_peers()
    } else {
        Err("not measured (--no-peers)".to_string())
    };
    // The peers' temporary files (a Redis server's socket) live here, and go
    // with it after the run, even if a peer was killed.
    let peer_tmp = workspace::target_dir().join("bench").join("peers-tmp");
    let _ = std::fs::remove_dir_all(&peer_tmp);
    // On a terminal the progress line redraws itself; in a log (CI) each
    // figure gets one line when it is done.
    let redraw = std::io::stderr().is_terminal();
    let mut rows = Vec::new();
    for (i, figure) in figures.iter().enumerate() {
        let figure_started = std::time::Instant::now();
        let count = if options.quick {
            figure.count.1
        } else {
            figure.count.0
        };
        // The columns, measured in this order in every round: ours, raw,
        // Python, then each peer.
        let labels: Vec<&str> = ["ours", "raw", "python"]
            .into_iter()
            .chain(figure.peers.iter().copied())
            .collect();
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
        let mut failures: Vec<Option<String>> = vec![None; labels.len()];
        if python.is_none() {
            failures[2] = Some("python3 not found".into());
        }
        if let Err(why) = &peers {
            for failure in failures.iter_mut().skip(3) {
                *failure = Some(why.clone());
            }
        }
        for round in 0..=options.samples {
            for (column, label) in labels.iter().enumerate() {
                if redraw {
                    eprint!(
                        "\r[{}/{}] {:<12} {} {:>2}/{} {:<12}   ",
                        i + 1,
                        figures.len(),
                        figure.name,
                        if round == 0 { "warm-up" } else { "sample " },
                        round,
                        options.samples,
                        label
                    );
                }
                if failures[column].is_some() {
                    continue;
                }
                let args = |first: &str| {
                    vec![
                        figure.name.to_string(),
                        first.to_string(),
                        count.to_string(),
                    ]
                };
                let outcome = match (column, &peers) {
                    (0 | 1, _) => measure(&binary, &args(label), &[]),
                    (2, _) => {
                        let mut python_args = vec![script.display().to_string()];
                        python_args.extend([figure.name.to_string(), count.to_string()]);
                        measure(Path::new("python3"), &python_args, &[])
                    }
                    (_, Ok(peers_binary)) => measure(
                        peers_binary,
                        &args(label),
                        &[("COURSE_BENCH_TMP", peer_tmp.display().to_string())],
                    ),
                    (_, Err(why)) => Err(why.clone()),
                };
                match outcome {
                    Ok(value) if round > 0 => samples[column].push(value),
                    Ok(_) => {}
                    Err(why) => failures[column] = Some(why),
                }
            }
        }
        let column = |k: usize| match (&failures[k], bench::summarise(&samples[k])) {
            (Some(why), _) => Column::Missing(why.clone()),
            (None, Some(summary)) => Column::Measured(summary),
            (None, None) => Column::Missing("no samples".into()),
        };
        if !redraw {
            eprintln!(
                "[{}/{}] {}: {} samples of {} in {:.1} s",
                i + 1,
                figures.len(),
                figure.name,
                options.samples,
                labels.join(", "),
                figure_started.elapsed().as_secs_f64()
            );
        }
        rows.push(Row {
            figure: *figure,
            ours: column(0),
            raw: column(1),
            python: column(2),
            peers: figure
                .peers
                .iter()
                .enumerate()
                .map(|(k, name)| (name.to_string(), column(3 + k)))
                .collect(),
        });
    }
    let _ = std::fs::remove_dir_all(&peer_tmp);
    if redraw {
        eprintln!("\r{:60}", "");
    }
    let programs = Programs {
        bench: &binary,
        script: &script,
        python: python.is_some(),
        peers: peers.as_ref().map_err(Clone::clone),
        peer_tmp: &peer_tmp,
    };
    let measured_sweeps: Vec<sweeps::Measured> = if options.sweeps {
        sweeps::SWEEPS
            .iter()
            .map(|sweep| run_sweep(sweep, &programs, options.quick, redraw))
            .collect()
    } else {
        Vec::new()
    };
    let machine = describe_machine(python.as_deref());
    let mut markdown = bench::markdown(&rows, &machine, options.samples);
    if !measured_sweeps.is_empty() {
        markdown.push_str("\n## How cost grows\n\n");
        markdown.push_str(&sweeps::markdown(&measured_sweeps, ""));
    }
    let out_dir = workspace::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let write = |name: &str, text: &str| -> Result<PathBuf, String> {
        let path = out_dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(path)
    };
    let md_path = write("report.md", &markdown)?;
    let mut report = bench::json_report(&rows, &machine, options.samples);
    report["sweeps"] = sweeps::json(&measured_sweeps);
    let json = serde_json::to_string_pretty(&report).expect("JSON");
    let json_path = write("report.json", &json)?;
    let chart_path = out_dir.join("chart.svg");
    chart(&rows, &machine, &chart_path)?;
    for measured in &measured_sweeps {
        let path = out_dir.join(format!("sweep-{}.svg", measured.sweep.name));
        sweeps::chart(measured, &machine, &path)?;
    }
    eprintln!(
        "wrote {}, {} and {}",
        md_path.display(),
        json_path.display(),
        chart_path.display()
    );
    if options.publish {
        let docs = workspace::root().join("docs/bench");
        std::fs::create_dir_all(&docs)
            .map_err(|e| format!("cannot create {}: {e}", docs.display()))?;
        publish_files(&out_dir, &docs)?;
        eprintln!("copied the report and the charts to {}", docs.display());
    }
    Ok(markdown)
}

/// Draws the report and the chart again from the last run's
/// `target/bench/report.json`, without measuring (for a change in how they
/// are drawn). Copies them to `docs/bench/` with `publish`.
pub fn redraw(publish: bool) -> Result<String, String> {
    let out_dir = workspace::target_dir().join("bench");
    let json_path = out_dir.join("report.json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| {
        format!(
            "cannot read {} (run `cargo xtask bench` first): {e}",
            json_path.display()
        )
    })?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let column = |v: &serde_json::Value| match (
        v["median"].as_f64(),
        v["min"].as_f64(),
        v["max"].as_f64(),
    ) {
        (Some(median), Some(min), Some(max)) => {
            Column::Measured(bench::Summary { median, min, max })
        }
        _ => Column::Missing(v["missing"].as_str().unwrap_or("missing").to_string()),
    };
    let rows: Vec<Row> = report["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let figure = *FIGURES
                .iter()
                .find(|fig| fig.name == f["name"].as_str().unwrap_or(""))?;
            Some(Row {
                figure,
                ours: column(&f["ours"]),
                raw: column(&f["raw"]),
                python: column(&f["python"]),
                peers: f["peers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, v)| (name.clone(), column(v)))
                    .collect(),
            })
        })
        .collect();
    let machine = report["machine"].as_str().unwrap_or("unknown machine");
    let samples = report["samples"].as_u64().unwrap_or(0) as usize;
    let measured_sweeps = sweeps::from_json(&report["sweeps"]);
    let mut markdown = bench::markdown(&rows, machine, samples);
    if !measured_sweeps.is_empty() {
        markdown.push_str("\n## How cost grows\n\n");
        markdown.push_str(&sweeps::markdown(&measured_sweeps, ""));
    }
    std::fs::write(out_dir.join("report.md"), &markdown).map_err(|e| e.to_string())?;
    chart(&rows, machine, &out_dir.join("chart.svg"))?;
    for measured in &measured_sweeps {
        let path = out_dir.join(format!("sweep-{}.svg", measured.sweep.name));
        sweeps::chart(measured, machine, &path)?;
    }
    if publish {
        let docs = workspace::root().join("docs/bench");
        std::fs::create_dir_all(&docs).map_err(|e| e.to_string())?;
        publish_files(&out_dir, &docs)?;
    }
    Ok(markdown)
}

/// Copies the report and every chart from `out_dir` to `docs`.
fn publish_files(out_dir: &Path, docs: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "report.md" || name.ends_with(".svg") {
            std::fs::copy(entry.path(), docs.join(&name))
                .map_err(|e| format!("cannot copy {name}: {e}"))?;
        }
    }
    Ok(())
}

/// The programs a sweep point may run.
struct Programs<'a> {
    bench: &'a Path,
    script: &'a Path,
    python: bool,
    peers: Result<&'a PathBuf, String>,
    peer_tmp: &'a Path,
}

/// Measures one sweep: at each x, each curve in turn, `samples` rounds
/// (3, or 1 with `quick`), interleaved; the median of each.
fn run_sweep(
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
            values[k][i] = bench::summarise(s).map(|summary| summary.median);
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
fn measure(program: &Path, args: &[String], env: &[(&str, String)]) -> Result<f64, String> {
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
fn build_peers() -> Result<PathBuf, String> {
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
    let binary = target.join("release").join("course-bench-peers");
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
            "course-bench-peers --list disagrees with xtask's FIGURES: {listed:?} against {expected:?}"
        ));
    }
    Ok(binary)
}

fn python_version() -> Option<String> {
    let output = Command::new("python3").arg("--version").output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn describe_machine(python: Option<&str>) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!(
        "{model}, {cpus} CPUs, Linux {}, {rustc} (release build), {}",
        kernel.trim(),
        python.unwrap_or("no python3")
    )
}

/// A bar chart of seconds per operation (log scale): ours, raw and Python
/// side by side for every figure that is a time or a rate.
pub fn chart(rows: &[Row], machine: &str, path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    let shown: Vec<&Row> = rows
        .iter()
        .filter(|r| r.figure.unit != Unit::Speedup)
        .collect();
    if shown.is_empty() {
        return Ok(());
    }
    let values: Vec<f64> = shown
        .iter()
        .flat_map(|r| [&r.ours, &r.raw, &r.python])
        .filter_map(|c| match c {
            Column::Measured(s) => Some(s.median),
            Column::Missing(_) => None,
        })
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min) / 3.0;
    let high = values.iter().copied().fold(0.0, f64::max) * 3.0;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (1400, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = shown.len();
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "seconds per operation (log scale; lower is faster)",
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (low..high).log_scale())?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("seconds per operation")
            .y_label_formatter(&|y| format!("{y:.0e}"))
            .draw()?;
        // Each group's short name under it (the report's table has the
        // long titles), level, so that every SVG renderer shows it.
        for (i, row) in shown.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64, low));
            let style = ("sans-serif", 14)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(row.figure.name, (x, y + 10), style))?;
        }
        const COLUMNS: [(&str, RGBColor); 3] = [
            ("ours (multiproc)", BLUE),
            ("raw (libc)", GREEN),
            ("CPython", RED),
        ];
        for (k, &(label, color)) in COLUMNS.iter().enumerate() {
            let bars: Vec<Rectangle<(f64, f64)>> = shown
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let column = [&r.ours, &r.raw, &r.python][k];
                    let Column::Measured(s) = column else {
                        return None;
                    };
                    let x0 = i as f64 - 0.4 + k as f64 * 0.27;
                    Some(Rectangle::new(
                        [(x0, low), (x0 + 0.25, s.median)],
                        color.filled(),
                    ))
                })
                .collect();
            chart.draw_series(bars)?.label(label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 12, y + 6)], color.filled())
            });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.draw(&Text::new(
            format!("Measured on: {machine}"),
            (20, 540),
            ("sans-serif", 13).into_font(),
        ))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("could not draw the chart: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::figures::Summary;

    #[test]
    fn the_chart_names_every_time_or_rate_figure_and_draws_its_bars() {
        let rows: Vec<Row> = FIGURES
            .iter()
            .enumerate()
            .map(|(i, figure)| {
                let at = |k: f64| {
                    Column::Measured(Summary {
                        median: k * 1e-6 * (i + 1) as f64,
                        min: 0.0,
                        max: 0.0,
                    })
                };
                Row {
                    figure: *figure,
                    ours: at(1.0),
                    raw: at(0.5),
                    python: Column::Missing("python3 not found".into()),
                    peers: Vec::new(),
                }
            })
            .collect();
        let path = std::env::temp_dir().join(format!("xtask-chart-{}.svg", std::process::id()));
        chart(&rows, "a test machine", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for figure in FIGURES {
            let shown = figure.unit != Unit::Speedup;
            let label = format!(">\n{}\n<", figure.name);
            assert_eq!(svg.contains(&label), shown, "{}", figure.name);
        }
        assert!(svg.contains("Measured on: a test machine"));
        // Two measured columns for each of the 14 time or rate figures, plus
        // the background and the legend's three swatches and frame.
        let bars = svg.matches("<rect").count();
        assert!(bars >= 28, "{bars} rectangles");
    }
}
