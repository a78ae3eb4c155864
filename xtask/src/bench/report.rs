//! The bench's report from its rows: values in their units, the ratios,
//! the goals judged, the best peer, and the Markdown and JSON reports.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::bench::figures::{Column, Goal, Row, Unit};
use crate::bench::sweeps::{Measured, SWEEPS};

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

/// Whether ours met every goal of its figure, with the measured figures the
/// goals are about. A goal whose column was not measured (`--no-peers`, no
/// python3) is not shown to be met, so the figure counts as missed and the
/// text says which column is missing. `None` for a figure without goals.
pub fn judge(row: &Row) -> Option<(bool, String)> {
    if row.figure.goals.is_empty() {
        return None;
    }
    let judged: Vec<(bool, String)> = row
        .figure
        .goals
        .iter()
        .map(|&goal| {
            judge_one(row, goal).unwrap_or_else(|| (false, format!("{} not measured", needs(goal))))
        })
        .collect();
    let met = judged.iter().all(|(met, _)| *met);
    let text = judged
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("; ");
    Some((met, text))
}

/// The column a goal compares ours with.
fn needs(goal: Goal) -> &'static str {
    match goal {
        Goal::TimesRawAtMost(_) | Goal::ShareOfRawAtLeast(_) => "raw",
        Goal::PerSecondAtLeast(_) => "ours",
        Goal::TimesPythonAtMost(_) => "CPython",
        Goal::TimesPeerAtLeast(peer, _) => peer,
    }
}

fn judge_one(row: &Row, goal: Goal) -> Option<(bool, String)> {
    let unit = row.figure.unit;
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
            let got = advantage(unit, &row.ours, &row.raw)?;
            let of = if unit == Unit::Speedup {
                "the bound"
            } else {
                "raw's rate"
            };
            (
                got >= share,
                format!("{:.0}% of {of} (goal ≥ {:.0}%)", got * 100.0, share * 100.0),
            )
        }
        Goal::PerSecondAtLeast(rate) => {
            let got = 1.0 / ours;
            (
                got >= rate,
                format!("{}/s (goal ≥ {}/s)", si(got).trim(), si(rate).trim()),
            )
        }
        Goal::TimesPythonAtMost(share) => {
            let ahead = row.python.median()? / ours;
            (
                ours <= share * row.python.median()?,
                format!("{ahead:.1}x CPython (goal ≥ {:.1}x)", 1.0 / share),
            )
        }
        Goal::TimesPeerAtLeast(peer, times) => {
            let column = row
                .peers
                .iter()
                .find(|(name, _)| name == peer)
                .map(|(_, c)| c)?;
            let got = advantage(unit, &row.ours, column)?;
            let text = if times >= 1.0 {
                format!("{got:.2}x {peer} (goal ≥ {times}x)")
            } else if got >= 1.0 {
                format!(
                    "{got:.2}x {peer} (goal: {peer} at most {:.0}x ahead)",
                    1.0 / times
                )
            } else {
                format!(
                    "{peer} {:.1}x ahead (goal ≤ {:.0}x)",
                    1.0 / got,
                    1.0 / times
                )
            };
            (got >= times, text)
        }
    })
}

/// What the raw column is where it is not plain: the same job on bare
/// system calls, as a floor.
pub const RAW_NOTES: &str = "the same job on bare system calls. For `queue`, 4-byte frames \
through a pipe (no bound); for `queue3`, the same pipe with a count of 3 free places in shared \
memory that the producer takes before each write (sleeping on a futex at 0) and the consumer gives \
back after each read; for `mqueue` and `mdict`, a round trip over a Unix socket; for the fib \
figures, the bound: the best speedup of the five tasks handed out in order to 2 workers";

/// What each peer is, for the report's header.
pub const PEER_NOTES: &str = "`procspawn` (processes and a pool, serde over ipc-channel), \
`ipc-channel` (Servo's typed channels between processes), `crossbeam` (crossbeam-channel between \
two threads of one process: what the same queue costs without processes), `rayon` (a thread \
pool), `std-mutex` (`std::sync::Mutex` locked and unlocked by one thread: what a lock costs \
that no other process can use), `redis` (a Redis server over a Unix socket, when redis-server is installed)";

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
    let _ = writeln!(out, "Raw: {RAW_NOTES}.");
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

pub fn show_sweep_value(value: f64) -> String {
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

/// A sweep's goal, judged on its first curve: `None` without a goal.
pub fn judge_sweep(m: &Measured) -> Option<String> {
    let goal = m.sweep.goal?;
    let label = m.sweep.curves[0].label;
    let at = |x: u64| {
        let i = m.xs.iter().position(|&have| have == x)?;
        m.values.first()?.get(i).copied().flatten()
    };
    let wanted = format!(
        "{label} at {} at least {:.0}% of its rate at {}",
        m.sweep.show_x(goal.x),
        goal.share * 100.0,
        m.sweep.show_x(goal.of_x)
    );
    Some(match (at(goal.x), at(goal.of_x)) {
        (Some(got), Some(base)) if base > 0.0 => {
            let share = got / base;
            let verdict = if share >= goal.share {
                "met"
            } else {
                "**missed**"
            };
            format!("Goal, {wanted}: {verdict} ({:.0}%).", share * 100.0)
        }
        _ => format!("Goal, {wanted}: not measured."),
    })
}

/// The sweeps as Markdown: a table each, under its chart.
pub fn sweeps_markdown(measured: &[Measured], image_dir: &str) -> String {
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
                let cell = values
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or("–".into(), show_sweep_value);
                let _ = write!(out, " {cell} |");
            }
            let _ = writeln!(out);
        }
        if let Some(judged) = judge_sweep(m) {
            let _ = writeln!(out, "\n{judged}");
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
pub fn sweeps_json(measured: &[Measured]) -> Value {
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

/// The sweeps read back from [`sweeps_json`].
pub fn sweeps_from_json(value: &Value) -> Vec<Measured> {
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

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
