//! How each cost grows with the work: four sweeps, each a set of curves
//! measured point by point, the curves interleaved at every point (as the
//! figures' columns are): what they measure. `report.rs` tables them and
//! `chart.rs` draws them, as both do for the figures.
//!
//! - `size`: one-way throughput against message size, 64 B to 16 MiB;
//! - `pool-workers`: Pool tasks per second against the number of workers;
//! - `pool-task`: Pool tasks per second against the length of a task;
//! - `start`: process start+join against the parent's touched memory
//!   (fork copies page tables, so it grows; spawn should not).

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
    /// What the first curve (ours) must reach, if anything.
    pub goal: Option<SweepGoal>,
}

/// A sweep's goal: at `x`, the first curve reaches at least `share` of its
/// own value at `of_x` (more workers than CPUs must not cost throughput).
#[derive(Clone, Copy, Debug)]
pub struct SweepGoal {
    /// Where it is judged.
    pub x: u64,
    /// Against the value here.
    pub of_x: u64,
    /// The least share.
    pub share: f64,
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
        goal: None,
    },
    Sweep {
        name: "pool-workers",
        title: "Pool throughput against the number of workers (tasks/s; tasks do no work)",
        x_label: "workers",
        program_sweep: "pool",
        axis: Axis::TasksPerSecond,
        curves: POOL_CURVES,
        goal: Some(SweepGoal {
            x: 8,
            of_x: 2,
            share: 0.9,
        }),
    },
    Sweep {
        name: "pool-task",
        title: "Pool throughput against the work in each task (tasks/s, 2 workers)",
        x_label: "µs of CPU per task",
        program_sweep: "pool",
        axis: Axis::TasksPerSecond,
        curves: POOL_CURVES,
        goal: None,
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
        goal: None,
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

    pub fn show_x(&self, x: u64) -> String {
        match self.name {
            "size" if x >= 1 << 20 => format!("{} MiB", x >> 20),
            "size" if x >= 1 << 10 => format!("{} KiB", x >> 10),
            "size" => format!("{x} B"),
            _ => x.to_string(),
        }
    }

    pub fn unit(&self) -> &'static str {
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
}
