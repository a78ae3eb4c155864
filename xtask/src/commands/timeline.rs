//! `cargo xtask timeline`: runs a lesson (and with `--python`, its twin)
//! with `COURSE_TRACE` set, and draws each section it traced as an SVG
//! Gantt chart: one row per worker, one bar per task.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use harness::runner::{self, Conditions};
use harness::workspace::{self, Lesson};

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Args, Outcome, Usage};

/// One task, as the trace file has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub row: String,
    pub label: String,
    /// Microseconds on `CLOCK_MONOTONIC`.
    pub start: f64,
    pub end: f64,
}

/// The sections of a trace file, in the order their first task started,
/// each with its bars.
pub fn read_trace(text: &str) -> Result<Vec<(String, Vec<Bar>)>, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let events = json
        .get("traceEvents")
        .and_then(|e| e.as_array())
        .ok_or("no traceEvents array")?;
    // Row names by (pid, tid), from the metadata events.
    let mut names = std::collections::HashMap::new();
    for e in events {
        if e.get("ph").and_then(|p| p.as_str()) == Some("M") {
            let key = (e["pid"].as_u64(), e["tid"].as_u64());
            let name = e["args"]["name"].as_str().unwrap_or("?");
            // "section: row": keep the row.
            let row = name.split_once(": ").map_or(name, |(_, row)| row);
            names.insert(key, row.to_string());
        }
    }
    let mut sections: Vec<(String, Vec<Bar>)> = Vec::new();
    for e in events {
        if e.get("ph").and_then(|p| p.as_str()) != Some("X") {
            continue;
        }
        let (Some(ts), Some(dur)) = (e["ts"].as_f64(), e["dur"].as_f64()) else {
            return Err(format!("an event without ts or dur: {e}"));
        };
        let section = e["cat"].as_str().unwrap_or("tasks").to_string();
        let key = (e["pid"].as_u64(), e["tid"].as_u64());
        let bar = Bar {
            row: names
                .get(&key)
                .cloned()
                .unwrap_or_else(|| format!("{key:?}")),
            label: e["name"].as_str().unwrap_or("?").to_string(),
            start: ts,
            end: ts + dur,
        };
        match sections.iter_mut().find(|(name, _)| *name == section) {
            Some((_, bars)) => bars.push(bar),
            None => sections.push((section, vec![bar])),
        }
    }
    Ok(sections)
}

/// Draws one section's bars as an SVG Gantt chart at `path`.
pub fn draw(title: &str, bars: &[Bar], path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let t0 = bars.iter().map(|b| b.start).fold(f64::INFINITY, f64::min);
    let t1 = bars.iter().map(|b| b.end).fold(f64::NEG_INFINITY, f64::max);
    let span_ms = ((t1 - t0) / 1000.0).max(1.0);
    let mut rows: Vec<&str> = Vec::new();
    let mut sorted: Vec<&Bar> = bars.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
    for bar in &sorted {
        if !rows.contains(&bar.row.as_str()) {
            rows.push(&bar.row);
        }
    }
    let height = 110 + 44 * rows.len() as u32;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..span_ms * 1.02, 0f64..rows.len() as f64)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&|y| {
                let i = (y - 0.5).round();
                if (y - 0.5 - i).abs() < 0.01 && i >= 0.0 {
                    rows.get(rows.len().saturating_sub(1 + i as usize))
                        .map(|r| r.to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc("ms from the section's first task")
            .draw()?;
        let colors = [
            RGBColor(76, 114, 176),
            RGBColor(221, 132, 82),
            RGBColor(85, 168, 104),
            RGBColor(196, 78, 82),
            RGBColor(129, 114, 179),
        ];
        for (k, bar) in sorted.iter().enumerate() {
            let row = rows.iter().position(|r| *r == bar.row).unwrap_or(0);
            let y = (rows.len() - 1 - row) as f64;
            let (x0, x1) = ((bar.start - t0) / 1000.0, (bar.end - t0) / 1000.0);
            let color = colors[k % colors.len()];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y + 0.2), (x1.max(x0 + span_ms * 0.003), y + 0.8)],
                color.mix(0.85).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                bar.label.clone(),
                (x0 + span_ms * 0.004, y + 0.62),
                ("sans-serif", 13).into_font().color(&BLACK),
            )))?;
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("could not draw {}: {e}", path.display()))
}

pub fn cmd_timeline(args: Args) -> Outcome {
    let lessons = selected(&args.names)?;
    let [lesson] = lessons.as_slice() else {
        return Err(Usage("name one lesson: cargo xtask timeline 01".into()));
    };
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let dir = workspace::target_dir().join("timelines");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot make {}: {e}", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    let mut runs = vec![(binary_for(&binaries, lesson), Vec::new(), "rust")];
    if args.has("--python") {
        let script = lesson.dir.join("python").join("lesson.py");
        runs.push((
            PathBuf::from("python3"),
            vec![script.display().to_string()],
            "python",
        ));
    }
    for (program, program_args, kind) in runs {
        match trace_and_draw(lesson, &program, &program_args, kind, &dir) {
            Ok(drawn) => {
                for path in drawn {
                    println!("wrote {}", workspace::shown(&path));
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `program` with `COURSE_TRACE` set and draws what it traced.
fn trace_and_draw(
    lesson: &Lesson,
    program: &Path,
    program_args: &[String],
    kind: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, String> {
    let trace = dir.join(format!("{}-{kind}.json", lesson.name));
    let _ = std::fs::remove_file(&trace);
    let conditions = Conditions {
        env: vec![("COURSE_TRACE".into(), trace.display().to_string())],
        ..Conditions::default()
    };
    let run = runner::run_with(program, program_args, Duration::from_secs(120), &conditions)
        .map_err(|e| format!("could not run {}: {e}", program.display()))?;
    if run.exit != 0 {
        return Err(format!(
            "{} ended with status {}:\n{}",
            program.display(),
            run.exit,
            run.stderr
        ));
    }
    let text = std::fs::read_to_string(&trace).map_err(|e| {
        format!(
            "{} wrote no trace at {}: {e}",
            program.display(),
            trace.display()
        )
    })?;
    let sections = read_trace(&text).map_err(|e| format!("{}: {e}", trace.display()))?;
    if sections.is_empty() {
        return Err(format!("lesson {} traced no section", lesson.name));
    }
    let mut drawn = vec![trace.clone()];
    for (k, (section, bars)) in sections.iter().enumerate() {
        let path = dir.join(format!("{}-{kind}-{}.svg", lesson.name, k + 1));
        let who = if kind == "python" { "CPython" } else { "Rust" };
        draw(
            &format!("{who}, lesson {}: {section}", lesson.name),
            bars,
            &path,
        )?;
        drawn.push(path);
    }
    Ok(drawn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_reads_back_by_section_and_row() {
        let text = r#"{"traceEvents":[
            {"name":"thread_name","ph":"M","pid":7,"tid":1,"args":{"name":"pools: thread 0"}},
            {"name":"fib(30)","cat":"pools","ph":"X","ts":10.0,"dur":5.0,"pid":7,"tid":1},
            {"name":"fib(31)","cat":"pools","ph":"X","ts":15.0,"dur":5.0,"pid":7,"tid":1},
            {"name":"0.3","cat":"imap","ph":"X","ts":30.0,"dur":1.0,"pid":7,"tid":2}]}"#;
        let sections = read_trace(text).unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(sections[0].0, "pools");
        assert_eq!(sections[0].1[1].label, "fib(31)");
        assert_eq!(sections[0].1[0].row, "thread 0");
        assert_eq!(sections[0].1[0].end, 15.0);
        assert!(read_trace("{}").is_err());
    }
}
