//! Running `cargo xtask bench`: the sampling loop, the machine's description,
//! the report files and the chart. The pure parts (statistics, rendering)
//! are in `figures.rs` and `report.rs`, with their tests.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bench::figures::{self, Column, FIGURES, Figure, Row};
use crate::bench::programs::{Programs, build_peers, measure, run_sweep};
use crate::bench::sweeps;
use crate::bench::{chart, report};
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
/// The command has checked that every figure named exists.
pub fn run(options: &Options) -> Result<String, String> {
    let figures: Vec<Figure> = FIGURES
        .iter()
        .filter(|f| options.only.is_empty() || options.only.iter().any(|n| n == f.name))
        .copied()
        .collect();
    let binaries = workspace::build_packages(&["bench"], true)?;
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
    let programs = Programs {
        bench: &binary,
        script: &script,
        python: python.is_some(),
        peers: peers.as_ref().map_err(Clone::clone),
        peer_tmp: &peer_tmp,
    };
    // On a terminal the progress line redraws itself; in a log (CI) each
    // figure gets one line when it is done.
    let redraw = std::io::stderr().is_terminal();
    let rows: Vec<Row> = figures
        .iter()
        .enumerate()
        .map(|(i, figure)| {
            let progress = format!("[{}/{}]", i + 1, figures.len());
            measure_figure(figure, &progress, &programs, options, redraw)
        })
        .collect();
    let _ = std::fs::remove_dir_all(&peer_tmp);
    if redraw {
        eprintln!("\r{:60}", "");
    }
    let measured_sweeps: Vec<sweeps::Measured> = if options.sweeps {
        sweeps::SWEEPS
            .iter()
            .map(|sweep| run_sweep(sweep, &programs, options.quick, redraw))
            .collect()
    } else {
        Vec::new()
    };
    let machine = describe_machine(python.as_deref());
    write_reports(&rows, &measured_sweeps, &machine, options)
}

/// One figure: `options.samples` rounds after a warm-up, each round
/// measuring every column in turn (ours, raw, Python, then each peer), so
/// that a change in the machine's speed touches them all alike.
fn measure_figure(
    figure: &Figure,
    progress: &str,
    programs: &Programs,
    options: &Options,
    redraw: bool,
) -> Row {
    let started = std::time::Instant::now();
    let count = if options.quick {
        figure.count.1
    } else {
        figure.count.0
    };
    let labels: Vec<&str> = ["ours", "raw", "python"]
        .into_iter()
        .chain(figure.peers.iter().copied())
        .collect();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    let mut failures: Vec<Option<String>> = vec![None; labels.len()];
    if !programs.python {
        failures[2] = Some("python3 not found".into());
    }
    if let Err(why) = &programs.peers {
        for failure in failures.iter_mut().skip(3) {
            *failure = Some(why.clone());
        }
    }
    for round in 0..=options.samples {
        for (column, label) in labels.iter().enumerate() {
            if redraw {
                eprint!(
                    "\r{progress} {:<12} {} {:>2}/{} {:<12}   ",
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
            let outcome = match (column, &programs.peers) {
                (0 | 1, _) => measure(programs.bench, &args(label), &[]),
                (2, _) => {
                    let mut python_args = vec![programs.script.display().to_string()];
                    python_args.extend([figure.name.to_string(), count.to_string()]);
                    measure(Path::new("python3"), &python_args, &[])
                }
                (_, Ok(peers_binary)) => measure(
                    peers_binary,
                    &args(label),
                    &[("COURSE_BENCH_TMP", programs.peer_tmp.display().to_string())],
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
    let column = |k: usize| match (&failures[k], figures::summarise(&samples[k])) {
        (Some(why), _) => Column::Missing(why.clone()),
        (None, Some(summary)) => Column::Measured(summary),
        (None, None) => Column::Missing("no samples".into()),
    };
    if !redraw {
        eprintln!(
            "{progress} {}: {} samples of {} in {:.1} s",
            figure.name,
            options.samples,
            labels.join(", "),
            started.elapsed().as_secs_f64()
        );
    }
    Row {
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
    }
}

/// Writes report.md, report.json, chart.svg and a chart per sweep under
/// the target directory (and copies them to docs/bench with `--publish`);
/// returns the Markdown.
fn write_reports(
    rows: &[Row],
    measured_sweeps: &[sweeps::Measured],
    machine: &str,
    options: &Options,
) -> Result<String, String> {
    let mut markdown = report::markdown(rows, machine, options.samples);
    if !measured_sweeps.is_empty() {
        markdown.push_str("\n## How cost grows\n\n");
        markdown.push_str(&report::sweeps_markdown(measured_sweeps, ""));
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
    let mut report = report::json_report(rows, machine, options.samples);
    report["sweeps"] = report::sweeps_json(measured_sweeps);
    let json = serde_json::to_string_pretty(&report).expect("JSON");
    let json_path = write("report.json", &json)?;
    let chart_path = out_dir.join("chart.svg");
    chart::chart(rows, machine, &chart_path)?;
    for measured in measured_sweeps {
        let path = out_dir.join(format!("sweep-{}.svg", measured.sweep.name));
        chart::sweep_chart(measured, machine, &path)?;
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
            Column::Measured(figures::Summary { median, min, max })
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
    let measured_sweeps = report::sweeps_from_json(&report["sweeps"]);
    let mut markdown = report::markdown(&rows, machine, samples);
    if !measured_sweeps.is_empty() {
        markdown.push_str("\n## How cost grows\n\n");
        markdown.push_str(&report::sweeps_markdown(&measured_sweeps, ""));
    }
    std::fs::write(out_dir.join("report.md"), &markdown).map_err(|e| e.to_string())?;
    chart::chart(&rows, machine, &out_dir.join("chart.svg"))?;
    for measured in &measured_sweeps {
        let path = out_dir.join(format!("sweep-{}.svg", measured.sweep.name));
        chart::sweep_chart(measured, machine, &path)?;
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
