//! `cargo xtask bench`'s figures: what each measures, in what unit, against
//! which goal and which peer crates; and the rows a run fills in.
//!
//! For each figure the programs run in turn, sample after sample (ours, raw,
//! Python, each peer, ours, raw, ...), so that the machine's noise falls on
//! all of them alike: `bench FIGURE ours|raw N`, `python3
//! bench/python/bench.py FIGURE N` and `bench-peers FIGURE PEER N`.
//! Each prints the seconds one operation took (for the speedup figures: a
//! speedup). `report.rs` turns the rows into the report.

/// How a figure's numbers read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// Time per operation: lower is better.
    Time,
    /// Operations per second, shown with this name: higher is better.
    Rate(&'static str),
    /// MB/s for 1 MiB messages: higher is better.
    Bandwidth,
    /// A speedup over serial: higher is better. The raw column is the best
    /// speedup possible.
    Speedup,
}

/// What ours must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// Ours takes at most this many times raw's time per operation.
    TimesRawAtMost(f64),
    /// Ours reaches at least this share of raw's figure (its rate, or for a
    /// speedup figure the bound in the raw column).
    ShareOfRawAtLeast(f64),
    /// Ours reaches at least this many operations per second.
    PerSecondAtLeast(f64),
    /// Ours takes at most this share of CPython's time per operation.
    TimesPythonAtMost(f64),
    /// Ours is at least this many times as fast as the named peer (below 1:
    /// the peer may be ahead, by at most the inverse).
    TimesPeerAtLeast(&'static str, f64),
}

/// One line of the report.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// The name `bench` and `bench.py` know it by.
    pub name: &'static str,
    /// What is measured.
    pub title: &'static str,
    /// How to read it.
    pub unit: Unit,
    /// Operations per sample in a full run, and with `--quick`. For the
    /// fib figures: CPython's rounds (1 in `--quick`: fib(26..=30) once).
    pub count: (u64, u64),
    /// What ours must reach: every one of these, in one run.
    pub goals: &'static [Goal],
    /// The Rust crates measured beside ours (`bench/peers`): the ones a
    /// learner would pick instead for this job.
    pub peers: &'static [&'static str],
}

/// Every figure, in report order.
pub const FIGURES: &[Figure] = &[
    Figure {
        name: "fork",
        title: "process start+join (fork)",
        unit: Unit::Time,
        count: (100, 40),
        goals: &[Goal::TimesRawAtMost(1.3)],
        peers: &[],
    },
    Figure {
        name: "spawn",
        title: "process start+join (spawn)",
        unit: Unit::Time,
        count: (12, 5),
        goals: &[],
        peers: &["procspawn"],
    },
    Figure {
        name: "thread",
        title: "thread start+join",
        unit: Unit::Time,
        count: (1000, 400),
        goals: &[Goal::TimesRawAtMost(1.2)],
        peers: &[],
    },
    Figure {
        name: "pipe-rtt",
        title: "Pipe round trip, small message",
        unit: Unit::Time,
        count: (5000, 2000),
        goals: &[Goal::TimesRawAtMost(1.25)],
        peers: &["ipc-channel"],
    },
    Figure {
        name: "pipe-msgs",
        title: "Pipe one-way, small messages",
        unit: Unit::Rate("msg/s"),
        count: (100_000, 30_000),
        goals: &[Goal::ShareOfRawAtLeast(0.7)],
        peers: &["ipc-channel"],
    },
    Figure {
        name: "pipe-mib",
        title: "Pipe one-way, 1 MiB messages",
        unit: Unit::Bandwidth,
        count: (100, 40),
        goals: &[
            Goal::ShareOfRawAtLeast(1.0),
            Goal::TimesPeerAtLeast("ipc-channel", 1.5),
        ],
        peers: &["ipc-channel"],
    },
    Figure {
        name: "queue",
        title: "Queue one-to-one, unbounded",
        unit: Unit::Rate("msg/s"),
        count: (60_000, 20_000),
        goals: &[
            Goal::PerSecondAtLeast(3_000_000.0),
            Goal::TimesPeerAtLeast("crossbeam", 0.25),
        ],
        peers: &["ipc-channel", "crossbeam"],
    },
    Figure {
        name: "queue3",
        title: "Queue one-to-one, maxsize 3",
        unit: Unit::Rate("msg/s"),
        count: (30_000, 10_000),
        goals: &[
            Goal::PerSecondAtLeast(1_000_000.0),
            Goal::TimesPythonAtMost(0.1),
            Goal::TimesPeerAtLeast("crossbeam", 0.25),
        ],
        peers: &["crossbeam"],
    },
    Figure {
        name: "mqueue",
        title: "manager queue one-to-one",
        unit: Unit::Rate("msg/s"),
        count: (10_000, 4000),
        goals: &[Goal::PerSecondAtLeast(40_000.0)],
        peers: &[],
    },
    Figure {
        name: "mdict",
        title: "manager dict set/get",
        unit: Unit::Rate("op/s"),
        count: (10_000, 4000),
        goals: &[
            Goal::TimesPythonAtMost(1.0 / 1.3),
            Goal::TimesPeerAtLeast("redis", 1.0),
        ],
        peers: &["redis"],
    },
    Figure {
        name: "mdict-tcp",
        title: "manager dict set/get over loopback TCP",
        unit: Unit::Rate("op/s"),
        count: (10_000, 4000),
        goals: &[
            Goal::TimesPythonAtMost(1.0 / 3.0),
            Goal::TimesPeerAtLeast("redis", 1.0 / 1.2),
        ],
        peers: &["redis"],
    },
    Figure {
        name: "lock",
        title: "Lock acquire + release, uncontended",
        unit: Unit::Time,
        count: (2_000_000, 500_000),
        goals: &[Goal::TimesRawAtMost(1.5)],
        peers: &["std-mutex"],
    },
    Figure {
        name: "incr2",
        title: "2 processes add 1 to a shared Value under its lock",
        unit: Unit::Time,
        count: (1_000_000, 200_000),
        goals: &[Goal::TimesPythonAtMost(0.1)],
        peers: &[],
    },
    Figure {
        name: "imap1",
        title: "Pool imap, chunksize 1",
        unit: Unit::Rate("task/s"),
        count: (30_000, 10_000),
        goals: &[Goal::PerSecondAtLeast(150_000.0)],
        peers: &["procspawn"],
    },
    Figure {
        name: "imap100",
        title: "Pool imap, chunksize 100",
        unit: Unit::Rate("task/s"),
        count: (600_000, 200_000),
        goals: &[Goal::PerSecondAtLeast(3_000_000.0)],
        peers: &[],
    },
    Figure {
        name: "imapu1",
        title: "Pool imap_unordered, chunksize 1",
        unit: Unit::Rate("task/s"),
        count: (30_000, 10_000),
        goals: &[Goal::PerSecondAtLeast(150_000.0)],
        peers: &["procspawn"],
    },
    Figure {
        name: "imapu100",
        title: "Pool imap_unordered, chunksize 100",
        unit: Unit::Rate("task/s"),
        count: (600_000, 200_000),
        goals: &[Goal::PerSecondAtLeast(3_000_000.0)],
        peers: &[],
    },
    Figure {
        name: "capacity",
        title: "two busy loops at once, speedup over one after the other (the machine's)",
        unit: Unit::Speedup,
        count: (1, 1),
        goals: &[],
        peers: &[],
    },
    Figure {
        name: "fib-threads",
        title: "fib of five n in a row on 2 threads (Rust 38..=42, CPython 30..=34), speedup",
        unit: Unit::Speedup,
        count: (3, 1),
        goals: &[Goal::ShareOfRawAtLeast(0.95)],
        peers: &["rayon"],
    },
    Figure {
        name: "fib-procs",
        title: "fib of five n in a row on 2 processes (Rust 38..=42, CPython 30..=34), speedup",
        unit: Unit::Speedup,
        count: (3, 1),
        goals: &[Goal::ShareOfRawAtLeast(0.95)],
        peers: &[],
    },
];

/// The median, smallest and largest of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The middle sample (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

/// Summarises samples; `None` for none.
pub fn summarise(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Summary {
        median,
        min: sorted[0],
        max: sorted[n - 1],
    })
}

/// What one column of a figure measured: its summary, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Measured.
    Measured(Summary),
    /// Not measured, and why (python3 missing, a run failed).
    Missing(String),
}

impl Column {
    pub(crate) fn median(&self) -> Option<f64> {
        match self {
            Column::Measured(s) => Some(s.median),
            Column::Missing(_) => None,
        }
    }
}

/// A figure's three columns.
#[derive(Debug, Clone)]
pub struct Row {
    /// Which figure.
    pub figure: Figure,
    /// The multiproc crate.
    pub ours: Column,
    /// The raw system calls (for speedups: the best possible).
    pub raw: Column,
    /// CPython's multiprocessing.
    pub python: Column,
    /// Each peer crate's column, by name.
    pub peers: Vec<(String, Column)>,
}
