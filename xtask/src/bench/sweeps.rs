//! How each cost grows with the work: four sweeps, each a set of curves
//! measured point by point, the curves interleaved at every point (as the
//! figures' columns are), each drawn as one chart and tabled in the report.
//!
//! - `size`: one-way throughput against message size, 64 B to 16 MiB;
//! - `pool-workers`: Pool tasks per second against the number of workers;
//! - `pool-task`: Pool tasks per second against the length of a task;
//! - `start`: process start+join against the parent's touched memory
//!   (fork copies page tables, so it grows; spawn should not).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

/// Which program measures a curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Program {
    /// `bench SWEEP IMPL COUNT PARAMETER` (ours and raw).
    Bench(&'static str),
    /// `bench.py SWEEP COUNT PARAMETER` (CPython), with its sweep name.
    Python(&'static str),
    /// `bench-peers SWEEP PEER COUNT PARAMETER`.
    Peer(&'static str),
}

/// One curve of a sweep.
#[derive(Clone, Copy, Debug)]
pub struct Curve {
    /// Its name in the legend and the table.
    pub label: &'static str,
    /// Who measures it.
    pub program: Program,
    /// For the pool sweeps: the chunksize (1 or 100).
    pub chunksize: u64,
}

/// How a sweep's values read.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    /// MB/s, from seconds per message of x bytes.
    Bandwidth,
    /// Tasks per second, from seconds per task.
    TasksPerSecond,
    /// Milliseconds per start+join.
    Milliseconds,
}

/// One sweep.
#[derive(Clone, Copy, Debug)]
pub struct Sweep {
    /// Its name (`sweep-NAME.svg`).
    pub name: &'static str,
    /// What the chart shows.
    pub title: &'static str,
    /// What x is.
    pub x_label: &'static str,
    /// The program's sweep name (`size`, `pool`, `start`).
    pub program_sweep: &'static str,
    /// The values read.
    pub axis: Axis,
    /// Its curves.
    pub curves: &'static [Curve],
}

const fn curve(label: &'static str, program: Program, chunksize: u64) -> Curve {
    Curve {
        label,
        program,
        chunksize,
    }
}

const POOL_CURVES: &[Curve] = &[
    curve("ours, chunksize 1", Program::Bench("ours"), 1),
    curve("ours, chunksize 100", Program::Bench("ours"), 100),
    curve("CPython, chunksize 1", Program::Python("pool"), 1),
    curve("CPython, chunksize 100", Program::Python("pool"), 100),
    curve("procspawn", Program::Peer("procspawn"), 1),
];

/// Every sweep, in report order.
pub const SWEEPS: &[Sweep] = &[
    Sweep {
        name: "size",
        title: "one-way throughput against message size (MB/s, log-log)",
        x_label: "message size",
        program_sweep: "size",
        axis: Axis::Bandwidth,
        curves: &[
            curve("ours: Pipe", Program::Bench("ours"), 0),
            curve("ours: Queue", Program::Bench("queue"), 0),
            curve("raw: framed pipe", Program::Bench("raw"), 0),
            curve("CPython: Pipe", Program::Python("size-pipe"), 0),
            curve("CPython: Queue", Program::Python("size-queue"), 0),
            curve("ipc-channel (bytes)", Program::Peer("ipc-channel"), 0),
        ],
    },
    Sweep {
        name: "pool-workers",
        title: "Pool throughput against the number of workers (tasks/s; tasks do no work)",
        x_label: "workers",
        program_sweep: "pool",
        axis: Axis::TasksPerSecond,
        curves: POOL_CURVES,
    },
    Sweep {
        name: "pool-task",
        title: "Pool throughput against the work in each task (tasks/s, 2 workers)",
        x_label: "µs of CPU per task",
        program_sweep: "pool",
        axis: Axis::TasksPerSecond,
        curves: POOL_CURVES,
    },
    Sweep {
        name: "start",
        title: "process start+join against the parent's touched memory (ms)",
        x_label: "parent's memory (MiB)",
        program_sweep: "start",
        axis: Axis::Milliseconds,
        curves: &[
            curve("ours: fork", Program::Bench("fork"), 0),
            curve("ours: spawn", Program::Bench("spawn"), 0),
            curve("raw: fork", Program::Bench("raw"), 0),
            curve("CPython: fork", Program::Python("start-fork"), 0),
            curve("CPython: spawn", Program::Python("start-spawn"), 0),
        ],
    },
];

impl Sweep {
    /// The x values: all of them, or a short version with `quick`.
    pub fn xs(&self, quick: bool) -> Vec<u64> {
        match (self.name, quick) {
            ("size", false) => (0..10).map(|k| 64u64 << (2 * k)).collect(),
            ("size", true) => vec![64, 4096, 1 << 18, 1 << 24],
            ("pool-workers", _) => vec![1, 2, 4, 8],
            ("pool-task", _) => vec![0, 10, 1000],
            ("start", false) => vec![10, 100, 1024],
            ("start", true) => vec![10, 1024],
            _ => Vec::new(),
        }
    }

    /// The program's PARAMETER for x on `curve`.
    pub fn parameter(&self, x: u64, curve: &Curve) -> String {
        match self.name {
            "pool-workers" => format!("{x},0,{}", curve.chunksize),
            "pool-task" => format!("2,{x},{}", curve.chunksize),
            _ => x.to_string(),
        }
    }

    /// How many operations one sample makes at x: enough to time, few
    /// enough that the whole sweep stays short.
    pub fn count(&self, x: u64, curve: &Curve, quick: bool) -> u64 {
        let scale = if quick { 4 } else { 1 };
        let count = match self.name {
            // About 64 MiB a sample (16 with --quick), 4 to 20000 messages.
            "size" => ((64u64 << 20) / x.max(1)).clamp(4, 20_000) / scale,
            "pool-workers" | "pool-task" => {
                let base = match curve.program {
                    Program::Peer(_) => 2_000,
                    _ if curve.chunksize > 1 => 100_000,
                    _ => 10_000,
                };
                let micros = if self.name == "pool-task" { x } else { 0 };
                // At most about half a second of work on 2 workers.
                (base / scale).min(1_000_000 / (micros + 1)).max(20)
            }
            "start" => match curve.program {
                Program::Python("start-spawn") => 2,
                Program::Bench("spawn") => 5,
                _ => 20 / scale,
            },
            _ => 1,
        };
        count.max(1)
    }

    /// A value for the table and chart, from seconds per operation at x.
    pub fn value(&self, x: u64, seconds: f64) -> f64 {
        match self.axis {
            Axis::Bandwidth => x as f64 / seconds / 1e6,
            Axis::TasksPerSecond => 1.0 / seconds,
            Axis::Milliseconds => seconds * 1e3,
        }
    }

    fn show_x(&self, x: u64) -> String {
        match self.name {
            "size" if x >= 1 << 20 => format!("{} MiB", x >> 20),
            "size" if x >= 1 << 10 => format!("{} KiB", x >> 10),
            "size" => format!("{x} B"),
            _ => x.to_string(),
        }
    }

    fn unit(&self) -> &'static str {
        match self.axis {
            Axis::Bandwidth => "MB/s",
            Axis::TasksPerSecond => "tasks/s",
            Axis::Milliseconds => "ms",
        }
    }
}

/// A sweep's results: per curve, the median value at each x (`None` where
/// it failed), and the first failure of each curve.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Which sweep.
    pub sweep: Sweep,
    /// Its x values.
    pub xs: Vec<u64>,
    /// Per curve (in the sweep's order): a value per x.
    pub values: Vec<Vec<Option<f64>>>,
    /// Per curve: why some point is missing, if one is.
    pub failures: Vec<Option<String>>,
}

fn show(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e4 {
        format!("{:.1} k", value / 1e3)
    } else if value >= 10.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// The sweeps as Markdown: a table each, under its chart.
pub fn markdown(measured: &[Measured], image_dir: &str) -> String {
    let mut out = String::new();
    for m in measured {
        let sweep = &m.sweep;
        let _ = writeln!(out, "### {}\n", sweep.title);
        let _ = writeln!(
            out,
            "![{}]({image_dir}sweep-{}.svg)\n",
            sweep.title, sweep.name
        );
        let _ = write!(out, "| {} |", sweep.x_label);
        for curve in sweep.curves {
            let _ = write!(out, " {} |", curve.label);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "|---|{}", "---|".repeat(sweep.curves.len()));
        for (i, &x) in m.xs.iter().enumerate() {
            let _ = write!(out, "| {} |", sweep.show_x(x));
            for values in &m.values {
                let cell = values.get(i).copied().flatten().map_or("–".into(), show);
                let _ = write!(out, " {cell} |");
            }
            let _ = writeln!(out);
        }
        for (curve, failure) in sweep.curves.iter().zip(&m.failures) {
            if let Some(why) = failure {
                let _ = writeln!(out, "\n{}: {why}", curve.label);
            }
        }
        let _ = writeln!(out);
    }
    out
}

/// The sweeps as JSON, for `--redraw`.
pub fn json(measured: &[Measured]) -> Value {
    Value::Array(
        measured
            .iter()
            .map(|m| {
                json!({
                    "name": m.sweep.name,
                    "xs": m.xs,
                    "curves": m.sweep.curves.iter().zip(&m.values).zip(&m.failures).map(|((c, v), f)| json!({
                        "label": c.label,
                        "values": v,
                        "failure": f,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The sweeps read back from [`json()`].
pub fn from_json(value: &Value) -> Vec<Measured> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let name = s["name"].as_str()?;
            let sweep = *SWEEPS.iter().find(|w| w.name == name)?;
            let xs: Vec<u64> = s["xs"]
                .as_array()?
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            let curves = s["curves"].as_array()?;
            let values = curves
                .iter()
                .map(|c| {
                    c["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(Value::as_f64)
                        .collect()
                })
                .collect();
            let failures = curves
                .iter()
                .map(|c| c["failure"].as_str().map(str::to_string))
                .collect();
            Some(Measured {
                sweep,
                xs,
                values,
                failures,
            })
        })
        .collect()
}

/// One sweep's chart: a line per curve, x evenly spaced (its values are
/// powers, so this is a log scale for size), y on a log scale.
pub fn chart(m: &Measured, machine: &str, path: &Path) -> Result<(), String> {
    use plotters::prelude::*;
    let all: Vec<f64> = m.values.iter().flatten().flatten().copied().collect();
    if all.is_empty() {
        return Ok(());
    }
    let low = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let high = all.iter().copied().fold(0.0, f64::max) * 2.0;
    let sweep = &m.sweep;
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = m.xs.len();
        let labels: Vec<String> = m.xs.iter().map(|&x| sweep.show_x(x)).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(sweep.title, ("sans-serif", 18))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), (low..high).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(n)
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                if (x - i as f64).abs() < 0.01 {
                    labels.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .x_desc(sweep.x_label)
            .y_desc(sweep.unit())
            .y_label_formatter(&|y| show(*y))
            .draw()?;
        let colors = [BLUE, CYAN, GREEN, RED, MAGENTA, BLACK];
        for (k, (curve, values)) in sweep.curves.iter().zip(&m.values).enumerate() {
            let color = colors[k % colors.len()];
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i as f64, v)))
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    points.clone(),
                    color.stroke_width(2),
                )))?
                .label(curve.label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.draw(&Text::new(
            format!("Measured on: {machine}"),
            (20, 505),
            ("sans-serif", 11).into_font(),
        ))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| format!("could not draw {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_sweep_runs_from_64_bytes_to_16_mib_in_powers_of_4() {
        let size = SWEEPS.iter().find(|s| s.name == "size").unwrap();
        let xs = size.xs(false);
        assert_eq!(xs.first(), Some(&64));
        assert_eq!(xs.last(), Some(&(16 << 20)));
        assert!(xs.windows(2).all(|w| w[1] == 4 * w[0]));
        assert!(size.xs(true).len() < xs.len());
    }

    #[test]
    fn counts_keep_long_tasks_short_and_the_table_names_every_curve() {
        let task = SWEEPS.iter().find(|s| s.name == "pool-task").unwrap();
        let ours = &task.curves[0];
        assert!(task.count(1000, ours, false) <= 1000);
        assert_eq!(task.parameter(10, &task.curves[1]), "2,10,100");
        let measured = Measured {
            sweep: *task,
            xs: vec![0, 10, 1000],
            values: vec![vec![Some(300_000.0), Some(90_000.0), None]; task.curves.len()],
            failures: vec![None; task.curves.len()],
        };
        let md = markdown(std::slice::from_ref(&measured), "");
        for curve in task.curves {
            assert!(md.contains(curve.label), "{md}");
        }
        assert!(md.contains("| 0 | 300.0 k |"), "{md}");
        let back = from_json(&json(std::slice::from_ref(&measured)));
        assert_eq!(back[0].values, measured.values);
    }
}
