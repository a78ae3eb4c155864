//! The bench's report from its rows: values in their units, the ratios,
//! the goals judged, the best peer, and the Markdown and JSON reports.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::bench::figures::{Column, Goal, Row, Unit};

/// A value in the figure's unit, for people: `4.03 ms`, `93.1 k msg/s`,
/// `412 MB/s`, `1.53x`. `value` is what the programs print: seconds per
/// operation, or a speedup.
pub fn show(unit: Unit, value: f64) -> String {
    match unit {
        Unit::Time => show_time(value),
        Unit::Rate(name) => format!("{} {name}", si(1.0 / value)),
        Unit::Bandwidth => format!("{:.0} MB/s", (1u64 << 20) as f64 / value / 1e6),
        Unit::Speedup => format!("{value:.2}x"),
    }
}

fn show_time(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else if seconds >= 1e-6 {
        format!("{:.1} µs", seconds * 1e6)
    } else {
        format!("{:.0} ns", seconds * 1e9)
    }
}

fn si(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.2} M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1} k", value / 1e3)
    } else {
        format!("{value:.0}")
    }
}

fn show_column(unit: Unit, column: &Column) -> String {
    match column {
        Column::Measured(s) => {
            // Samples are seconds per operation; shown as a rate, the
            // slowest sample is the lowest rate: keep the range low to high.
            let (low, high) = match unit {
                Unit::Rate(_) | Unit::Bandwidth => (s.max, s.min),
                _ => (s.min, s.max),
            };
            format!(
                "{} ({}–{})",
                show(unit, s.median),
                show_range(unit, low),
                show_range(unit, high)
            )
        }
        Column::Missing(why) => format!("({why})"),
    }
}

/// A range end, without the unit's name (it is in the median before it).
fn show_range(unit: Unit, value: f64) -> String {
    let shown = show(unit, value);
    match unit {
        Unit::Rate(name) => shown.trim_end_matches(name).trim_end().to_string(),
        Unit::Bandwidth => shown.trim_end_matches("MB/s").trim_end().to_string(),
        _ => shown,
    }
}

/// "How many times better ours is" against another column: above 1 means
/// ours is faster (or its speedup larger). `None` when a column is missing.
pub fn advantage(unit: Unit, ours: &Column, other: &Column) -> Option<f64> {
    let (o, t) = (ours.median()?, other.median()?);
    Some(match unit {
        Unit::Speedup => o / t,
        _ => t / o, // seconds per operation: less is better
    })
}

/// Whether ours met its goal, with the measured figure the goal is about.
pub fn judge(row: &Row) -> Option<(bool, String)> {
    let goal = row.figure.goal?;
    let ours = row.ours.median()?;
    Some(match goal {
        Goal::TimesRawAtMost(limit) => {
            let times = ours / row.raw.median()?;
            (
                times <= limit,
                format!("{times:.2}x raw's time (goal ≤ {limit}x)"),
            )
        }
        Goal::ShareOfRawAtLeast(share) => {
            let got = row.raw.median()? / ours;
            (
                got >= share,
                format!(
                    "{:.0}% of raw's rate (goal ≥ {:.0}%)",
                    got * 100.0,
                    share * 100.0
                ),
            )
        }
        Goal::PerSecondAtLeast(rate) => {
            let got = 1.0 / ours;
            (
                got >= rate,
                format!("{}/s (goal ≥ {}/s)", si(got).trim(), si(rate).trim()),
            )
        }
        Goal::SpeedupAtLeast(speedup) => {
            (ours >= speedup, format!("{ours:.2}x (goal ≥ {speedup}x)"))
        }
    })
}

/// What each peer is, for the report's header.
pub const PEER_NOTES: &str = "`procspawn` (processes and a pool, serde over ipc-channel), \
`ipc-channel` (Servo's typed channels between processes), `crossbeam` (crossbeam-channel between \
two threads of one process: what the same queue costs without processes), `rayon` (a thread \
pool), `redis` (a Redis server over a Unix socket, when redis-server is installed)";

/// Peers shown for reference only, never ours' rival: `crossbeam` moves the
/// queue figures' items between two threads of one process, which shows
/// what processes cost against threads, not how well ours does its job.
pub const REFERENCE_ONLY: &[&str] = &["crossbeam"];

/// The best of a row's peers for its unit (least time per operation, or
/// the largest speedup), with its name; reference-only peers excluded.
pub fn best_peer(row: &Row) -> Option<(&str, &Column)> {
    let unit = row.figure.unit;
    row.peers
        .iter()
        .filter(|(name, column)| {
            column.median().is_some() && !REFERENCE_ONLY.contains(&name.as_str())
        })
        .max_by(|(_, a), (_, b)| {
            // `advantage(unit, a, b)` above 1: a is better than b.
            let a_over_b = advantage(unit, a, b).unwrap_or(1.0);
            a_over_b.total_cmp(&1.0)
        })
        .map(|(name, column)| (name.as_str(), column))
}

/// The Markdown report.
pub fn markdown(rows: &[Row], machine: &str, samples: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Measured on: {machine}. {samples} samples of each, interleaved; median (min–max)."
    );
    let _ = writeln!(
        out,
        "\"vs raw\", \"vs Python\" and \"vs best peer\": how many times faster ours is (above 1: \
         faster). The best peer (in bold) is the fastest of the Rust crates measured for that \
         figure that do the same job; \"–\": the crate does not do that job."
    );
    let _ = writeln!(out, "Peers: {PEER_NOTES}.\n");
    // A column per peer, in the order the figures name them.
    let mut peer_names: Vec<&str> = Vec::new();
    for row in rows {
        for (name, _) in &row.peers {
            if !peer_names.contains(&name.as_str()) {
                peer_names.push(name);
            }
        }
    }
    let peer_header: String = peer_names
        .iter()
        .map(|name| {
            if REFERENCE_ONLY.contains(name) {
                format!(" {name} (threads) |")
            } else {
                format!(" {name} |")
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "| figure | ours | raw | Python |{peer_header} vs raw | vs Python | vs best peer | goal |"
    );
    let _ = writeln!(
        out,
        "|---|---|---|---|{}---|---|---|---|",
        "---|".repeat(peer_names.len())
    );
    for row in rows {
        let unit = row.figure.unit;
        let ratio = |other: &Column| {
            advantage(unit, &row.ours, other).map_or("–".to_string(), |r| format!("{r:.2}"))
        };
        let goal = match judge(row) {
            Some((true, text)) => format!("met: {text}"),
            Some((false, text)) => format!("**missed**: {text}"),
            None => "–".into(),
        };
        let raw_label = if row.figure.name.starts_with("fib") {
            format!("{} (bound)", show_column(unit, &row.raw))
        } else {
            show_column(unit, &row.raw)
        };
        // The best peer in bold; "–" where a peer does not do this job.
        let best = best_peer(row).map(|(name, _)| name.to_string());
        let peer_cells: String = peer_names
            .iter()
            .map(|name| match row.peers.iter().find(|(n, _)| n == name) {
                None => " – |".to_string(),
                Some((n, column)) if best.as_deref() == Some(n.as_str()) => {
                    format!(" **{}** |", show_column(unit, column))
                }
                Some((_, column)) => format!(" {} |", show_column(unit, column)),
            })
            .collect();
        let vs_peer = best_peer(row).map_or("–".to_string(), |(_, column)| ratio(column));
        let _ = writeln!(
            out,
            "| {} (`{}`) | {} | {} | {} |{peer_cells} {} | {} | {} | {} |",
            row.figure.title,
            row.figure.name,
            show_column(unit, &row.ours),
            raw_label,
            show_column(unit, &row.python),
            ratio(&row.raw),
            ratio(&row.python),
            vs_peer,
            goal
        );
    }
    out
}

/// The JSON report: every sample summary, in the programs' own units.
pub fn json_report(rows: &[Row], machine: &str, samples: usize) -> Value {
    let column = |c: &Column| match c {
        Column::Measured(s) => json!({"median": s.median, "min": s.min, "max": s.max}),
        Column::Missing(why) => json!({"missing": why}),
    };
    json!({
        "machine": machine,
        "samples": samples,
        "unit_note": "seconds per operation, except speedup figures (serial time / parallel time)",
        "figures": rows.iter().map(|r| json!({
            "name": r.figure.name,
            "title": r.figure.title,
            "ours": column(&r.ours),
            "raw": column(&r.raw),
            "python": column(&r.python),
            "peers": r.peers.iter().map(|(name, c)| (name.clone(), column(c))).collect::<serde_json::Map<_, _>>(),
            "goal_met": judge(r).map(|(met, text)| json!({"met": met, "text": text})),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
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
        assert!(judge(&row("queue", 1.0 / 600_000.0, 1.0)).unwrap().0);
        assert!(!judge(&row("queue", 1.0 / 400_000.0, 1.0)).unwrap().0);
        assert!(judge(&row("fib-procs", 1.5, 1.56)).unwrap().0);
        assert_eq!(judge(&row("spawn", 1.0, 1.0)), None);
    }

    #[test]
    fn the_markdown_report_has_a_row_per_figure_and_says_what_is_missing() {
        let rows = vec![
            row("fork", 2.5e-4, 2.2e-4),
            row("queue", 1.0 / 400_000.0, 1.0 / 900_000.0),
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
        let queue_row = md.lines().find(|l| l.contains("(`queue`)")).unwrap();
        assert!(
            queue_row.contains("400.0 k msg/s (363.6 k–444.4 k)"),
            "{queue_row}"
        );
        assert!(md.contains("**missed**: 400.0 k/s (goal ≥ 500.0 k/s)"));
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
}
