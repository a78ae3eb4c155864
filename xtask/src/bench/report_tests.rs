//! The report's tests: tables, ratios, goals and the sweeps' tables.

use super::*;
use crate::bench::figures::{FIGURES, Summary, summarise};

fn measured(median: f64) -> Column {
    Column::Measured(Summary {
        median,
        min: median * 0.9,
        max: median * 1.1,
    })
}

#[test]
fn median_min_and_max() {
    assert_eq!(summarise(&[]), None);
    assert_eq!(
        summarise(&[3.0]).unwrap(),
        Summary {
            median: 3.0,
            min: 3.0,
            max: 3.0
        }
    );
    assert_eq!(
        summarise(&[5.0, 1.0, 3.0]).unwrap(),
        Summary {
            median: 3.0,
            min: 1.0,
            max: 5.0
        }
    );
    assert_eq!(summarise(&[4.0, 1.0, 3.0, 2.0]).unwrap().median, 2.5);
}

#[test]
fn values_are_shown_in_their_units() {
    assert_eq!(show(Unit::Time, 4.03e-3), "4.03 ms");
    assert_eq!(show(Unit::Time, 2.22e-4), "222.0 µs");
    assert_eq!(show(Unit::Time, 1.5), "1.50 s");
    assert_eq!(show(Unit::Time, 5e-8), "50 ns");
    assert_eq!(show(Unit::Rate("msg/s"), 1.0 / 93_100.0), "93.1 k msg/s");
    assert_eq!(
        show(Unit::Rate("task/s"), 1.0 / 3_200_000.0),
        "3.20 M task/s"
    );
    assert_eq!(
        show(Unit::Bandwidth, (1u64 << 20) as f64 / 412e6),
        "412 MB/s"
    );
    assert_eq!(show(Unit::Speedup, 1.534), "1.53x");
}

#[test]
fn advantage_reads_as_times_faster() {
    // Ours takes half raw's time per operation: 2x faster.
    assert_eq!(
        advantage(Unit::Time, &measured(1.0), &measured(2.0)),
        Some(2.0)
    );
    assert_eq!(
        advantage(Unit::Rate("x"), &measured(2.0), &measured(1.0)),
        Some(0.5)
    );
    assert_eq!(
        advantage(Unit::Speedup, &measured(1.5), &measured(1.0)),
        Some(1.5)
    );
    assert_eq!(
        advantage(Unit::Time, &measured(1.0), &Column::Missing("no".into())),
        None
    );
}

fn row(name: &str, ours: f64, raw: f64) -> Row {
    let figure = *FIGURES.iter().find(|f| f.name == name).unwrap();
    Row {
        figure,
        ours: measured(ours),
        raw: measured(raw),
        python: Column::Missing("python3 not found".into()),
        peers: Vec::new(),
    }
}

#[test]
fn the_best_peer_is_the_fastest_and_the_report_compares_ours_with_it() {
    let mut queue = row("queue", 1.0 / 1_000_000.0, 1.0 / 900_000.0);
    queue.peers = vec![
        ("ipc-channel".into(), measured(1.0 / 250_000.0)),
        ("crossbeam".into(), measured(1.0 / 50_000_000.0)),
    ];
    // crossbeam moves the items between threads: shown, never the rival.
    assert_eq!(best_peer(&queue).unwrap().0, "ipc-channel");
    let mut fib = row("fib-threads", 1.2, 1.56);
    fib.peers = vec![("rayon".into(), measured(1.4))];
    assert_eq!(best_peer(&fib).unwrap().0, "rayon");
    let mut missing = row("mdict", 1.0 / 20_000.0, 1.0 / 20_000.0);
    missing.peers = vec![(
        "redis".into(),
        Column::Missing("redis-server is not installed".into()),
    )];
    let md = markdown(&[queue, fib, missing], "m", 5);
    let queue_line = md.lines().find(|l| l.contains("(`queue`)")).unwrap();
    assert!(queue_line.contains("| **250.0 k msg/s"), "{queue_line}");
    assert!(queue_line.contains("| 50.00 M msg/s"), "{queue_line}");
    assert!(
        md.contains("| ipc-channel | crossbeam (threads) | rayon | redis |"),
        "{md}"
    );
    assert!(
        queue_line.contains("| 4.00 |"),
        "ours is 4 times ipc-channel: {queue_line}"
    );
    let mdict_line = md.lines().find(|l| l.contains("(`mdict`)")).unwrap();
    assert!(
        mdict_line.contains("| (redis-server is not installed) |"),
        "{mdict_line}"
    );
}

/// `bench/peers` measures exactly the (figure, peer) pairs this table
/// names: read from its source, so that this test needs no build of it.
#[test]
fn the_peers_binary_knows_the_same_pairs() {
    let source =
        std::fs::read_to_string(harness::workspace::root().join("bench/peers/src/main.rs"))
            .unwrap();
    let start = source.find("const PAIRS").unwrap();
    let end = start + source[start..].find("];").unwrap();
    let listed: Vec<String> = source[start..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("(\"")?.strip_suffix("\"),")?;
            let (figure, peer) = l.split_once("\", \"")?;
            Some(format!("{figure} {peer}"))
        })
        .collect();
    let ours: Vec<String> = FIGURES
        .iter()
        .flat_map(|f| f.peers.iter().map(move |p| format!("{} {p}", f.name)))
        .collect();
    assert_eq!(listed, ours);
}

#[test]
fn goals_are_judged_on_medians() {
    assert!(judge(&row("fork", 1.2, 1.0)).unwrap().0);
    assert!(!judge(&row("fork", 1.4, 1.0)).unwrap().0);
    assert!(judge(&row("pipe-msgs", 1.0, 0.7)).unwrap().0);
    assert!(!judge(&row("pipe-msgs", 1.0, 0.6)).unwrap().0);
    let mut queue = row("queue", 1.0 / 6_000_000.0, 1.0);
    queue.peers = vec![("crossbeam".into(), measured(1.0 / 20_000_000.0))];
    assert!(judge(&queue).unwrap().0);
    // Fast enough, but crossbeam more than 4x ahead.
    queue.peers = vec![("crossbeam".into(), measured(1.0 / 30_000_000.0))];
    let (met, text) = judge(&queue).unwrap();
    assert!(!met);
    assert_eq!(
        text,
        "6.00 M/s (goal ≥ 3.00 M/s); crossbeam 5.0x ahead (goal ≤ 4x)"
    );
    // Without the peer's column the goal is not shown to be met.
    queue.peers.clear();
    assert_eq!(
        judge(&queue).unwrap(),
        (
            false,
            "6.00 M/s (goal ≥ 3.00 M/s); crossbeam not measured".into()
        )
    );
    assert!(!judge(&row("queue", 1.0 / 400_000.0, 1.0)).unwrap().0);
    // Ahead of the peer it may trail.
    let mut queue3 = row("queue3", 1.0 / 6_000_000.0, 1.0);
    queue3.python = measured(1.0 / 50_000.0);
    queue3.peers = vec![("crossbeam".into(), measured(1.0 / 2_000_000.0))];
    assert_eq!(
        judge(&queue3).unwrap().1,
        "6.00 M/s (goal ≥ 1.00 M/s); 120.0x CPython (goal ≥ 10.0x); 3.00x crossbeam (goal: \
         crossbeam at most 4x ahead)"
    );
    // A speedup against its bound.
    assert!(judge(&row("fib-procs", 1.5, 1.56)).unwrap().0);
    assert!(!judge(&row("fib-procs", 1.3, 1.56)).unwrap().0);
    assert_eq!(judge(&row("spawn", 1.0, 1.0)), None);
}

#[test]
fn the_markdown_report_has_a_row_per_figure_and_says_what_is_missing() {
    let rows = vec![
        row("fork", 2.5e-4, 2.2e-4),
        row("queue3", 1.0 / 400_000.0, 1.0 / 900_000.0),
    ];
    let md = markdown(&rows, "test machine", 5);
    assert!(md.starts_with("Measured on: test machine. 5 samples"));
    assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 3);
    assert!(md.contains(
        "| process start+join (fork) (`fork`) | 250.0 µs (225.0 µs–275.0 µs) | 220.0 µs"
    ));
    assert!(md.contains("(python3 not found)"));
    assert!(md.contains("met: 1.14x raw's time (goal ≤ 1.3x)"));
    // A rate's range reads from the slowest sample to the fastest.
    let queue_row = md.lines().find(|l| l.contains("(`queue3`)")).unwrap();
    assert!(
        queue_row.contains("400.0 k msg/s (363.6 k–444.4 k)"),
        "{queue_row}"
    );
    assert!(md.contains(
        "**missed**: 400.0 k/s (goal ≥ 1.00 M/s); CPython not measured; crossbeam not measured"
    ));
    let json = json_report(&rows, "m", 5);
    assert_eq!(json["figures"][1]["goal_met"]["met"], false);
    assert_eq!(json["figures"][0]["python"]["missing"], "python3 not found");
}

/// The figure names are one list, this file's `FIGURES`: the Rust bench
/// and the Python bench must measure exactly these, in this order.
#[test]
fn the_rust_and_python_benches_know_the_same_figures() {
    let ours: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
    let built = harness::workspace::build_packages(&["bench"], false).unwrap();
    let list = |program: &std::path::Path, args: &[String]| -> Vec<String> {
        let run = harness::runner::run(program, args, std::time::Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
        assert_eq!(run.exit, 0, "{run:?}");
        run.stdout.lines().map(str::to_string).collect()
    };
    assert_eq!(list(&built[0].1, &["--list".into()]), ours, "bench --list");
    let script = harness::workspace::root().join("bench/python/bench.py");
    let python = list(
        std::path::Path::new("python3"),
        &[script.display().to_string(), "--list".into()],
    );
    assert_eq!(python, ours, "bench.py --list");
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
    let md = sweeps_markdown(std::slice::from_ref(&measured), "");
    for curve in task.curves {
        assert!(md.contains(curve.label), "{md}");
    }
    assert!(md.contains("| 0 | 300.0 k |"), "{md}");
    let back = sweeps_from_json(&sweeps_json(std::slice::from_ref(&measured)));
    assert_eq!(back[0].values, measured.values);
}

#[test]
fn the_workers_sweep_judges_eight_workers_against_two() {
    let workers = *SWEEPS.iter().find(|s| s.name == "pool-workers").unwrap();
    let with = |eight: Option<f64>| Measured {
        sweep: workers,
        xs: vec![1, 2, 4, 8],
        values: vec![vec![Some(250e3), Some(300e3), Some(290e3), eight]; workers.curves.len()],
        failures: vec![None; workers.curves.len()],
    };
    let goal = "Goal, ours, chunksize 1 at 8 at least 90% of its rate at 2";
    assert_eq!(
        judge_sweep(&with(Some(280e3))).unwrap(),
        format!("{goal}: met (93%).")
    );
    assert_eq!(
        judge_sweep(&with(Some(120e3))).unwrap(),
        format!("{goal}: **missed** (40%).")
    );
    assert_eq!(
        judge_sweep(&with(None)).unwrap(),
        format!("{goal}: not measured.")
    );
    let md = sweeps_markdown(&[with(Some(280e3))], "");
    assert!(md.contains("met (93%)"), "{md}");
    let task = *SWEEPS.iter().find(|s| s.name == "pool-task").unwrap();
    assert!(task.goal.is_none());
}
