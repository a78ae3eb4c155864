//! Who ran which task when: a lesson collects one [`Span`] per task (its
//! worker, a label, its start and end on `CLOCK_MONOTONIC`, the same clock
//! in every process) and [`Schedule::print`] draws them as text, one row
//! per worker, e.g.
//!
//! ```text
//! thread 0 |wait 300ms=========================|fib(20)|
//! thread 1 |fib(30)|fib(31)=|fib(32)===|fib(33)======|fib(34)==========|
//!          0 ms                                                   412 ms
//! ```
//!
//! Every label is printed whole, in the order its tasks started, so that a
//! golden file can check the order of tasks in a row with holes between
//! them (`thread 0 |wait 300ms[..]|fib(20)[..]`); the lengths follow the
//! times, as far as the labels leave room.
//!
//! With `COURSE_TRACE=FILE` in the environment, every printed schedule is
//! also written to FILE as Chrome's Trace Event JSON (one track per
//! worker), which Perfetto (`ui.perfetto.dev`) and `chrome://tracing` open.

use std::io::Write;

use serde::{Deserialize, Serialize};

/// A task's result, with which process ran it and when: what a task
/// returns across a pool for its schedule to be drawn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ran<T> {
    /// What the task returned.
    pub value: T,
    /// The process that ran it.
    pub pid: u32,
    /// When it started and ended, in ns on `CLOCK_MONOTONIC`.
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
}

/// Runs `task` and notes when and where: the one call a lesson's task
/// makes for its schedule.
pub fn ran<T>(task: impl FnOnce() -> T) -> Ran<T> {
    let start_ns = crate::monotonic_ns();
    let value = task();
    Ran {
        value,
        pid: std::process::id(),
        start_ns,
        end_ns: crate::monotonic_ns(),
    }
}

/// The widest a drawn row may be, the worker's name included (the golden
/// test allows 100 columns).
pub const COLUMNS: usize = 72;

/// One task as it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Which worker ran it: `thread 0`, `pid=123`.
    pub row: String,
    /// What it was: `fib(30)`.
    pub label: String,
    /// When it started and ended, in ns on `CLOCK_MONOTONIC`.
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
}

/// The spans of one concurrent section, and its name for the trace.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    name: String,
    spans: Vec<Span>,
}

impl Schedule {
    /// An empty schedule; `name` names its section in the trace file.
    pub fn new(name: &str) -> Schedule {
        Schedule {
            name: name.to_string(),
            spans: Vec::new(),
        }
    }

    /// Adds one task.
    pub fn add(
        &mut self,
        row: impl Into<String>,
        label: impl Into<String>,
        start_ns: u64,
        end_ns: u64,
    ) {
        self.spans.push(Span {
            row: row.into(),
            label: label.into(),
            start_ns,
            end_ns: end_ns.max(start_ns),
        });
    }

    /// Adds a task that ran in a pool's worker, in the row of its pid.
    pub fn add_ran<T>(&mut self, label: impl Into<String>, ran: &Ran<T>) {
        self.add(format!("pid={}", ran.pid), label, ran.start_ns, ran.end_ns);
    }

    /// The rows in the order of their first task, each with its spans in
    /// the order they started.
    fn rows(&self) -> Vec<(String, Vec<&Span>)> {
        let mut spans: Vec<&Span> = self.spans.iter().collect();
        spans.sort_by_key(|s| (s.start_ns, s.end_ns));
        let mut rows: Vec<(String, Vec<&Span>)> = Vec::new();
        for span in spans {
            match rows.iter_mut().find(|(row, _)| *row == span.row) {
                Some((_, list)) => list.push(span),
                None => rows.push((span.row.clone(), vec![span])),
            }
        }
        rows
    }

    /// The drawing, one string per line: a row per worker, then the time
    /// axis.
    pub fn render(&self) -> Vec<String> {
        let rows = self.rows();
        let Some(t0) = self.spans.iter().map(|s| s.start_ns).min() else {
            return vec!["(no tasks ran)".to_string()];
        };
        let t1 = self
            .spans
            .iter()
            .map(|s| s.end_ns)
            .max()
            .unwrap_or(t0)
            .max(t0 + 1);
        let name_width = rows
            .iter()
            .map(|(row, _)| row.chars().count())
            .max()
            .unwrap_or(0);
        let width = COLUMNS.saturating_sub(name_width + 2).max(10);
        let column = |ns: u64| ((ns - t0) as u128 * width as u128 / (t1 - t0) as u128) as usize;
        let mut lines = Vec::new();
        for (row, spans) in &rows {
            let mut line: Vec<char> = Vec::new();
            for span in spans {
                // Where the span starts: its time, or just after what is
                // drawn already (a label takes the room it needs).
                let start = column(span.start_ns).max(line.len());
                line.resize(start, ' ');
                let end = column(span.end_ns).max(start + span.label.chars().count() + 1);
                line.push('|');
                line.extend(span.label.chars());
                line.resize(end, '=');
            }
            line.push('|');
            let drawn: String = line.into_iter().collect();
            lines.push(format!("{row:<name_width$} {drawn}"));
        }
        let total_ms = (t1 - t0) / 1_000_000;
        let right = format!("{total_ms} ms");
        let pad = " ".repeat(name_width + 1);
        let gap = width.saturating_sub(4 + right.len()).max(1);
        lines.push(format!("{pad}0 ms{}{right}", " ".repeat(gap)));
        lines
    }

    /// Prints the drawing, and appends the spans to the trace file if
    /// `COURSE_TRACE` names one.
    ///
    /// # Panics
    /// If the trace file cannot be written (it was written at the lesson's
    /// start, in [`start_trace`]: this happens only if it was taken away
    /// since).
    pub fn print(&self) {
        for line in self.render() {
            println!("{line}");
        }
        if let Some(path) = std::env::var_os("COURSE_TRACE")
            && let Err(e) = append_trace(std::path::Path::new(&path), self)
        {
            panic!(
                "cannot write the trace file {}: {e}",
                std::path::Path::new(&path).display()
            );
        }
    }
}

/// Called as a lesson starts: with `COURSE_TRACE=FILE`, makes FILE an
/// empty trace, or ends the lesson at once (status 1) with the reason, so
/// that a trace that cannot be written changes nothing else.
pub fn start_trace() {
    let Some(path) = std::env::var_os("COURSE_TRACE") else {
        return;
    };
    let path = std::path::Path::new(&path);
    if let Err(e) = std::fs::write(path, "{\"traceEvents\":[]}") {
        eprintln!(
            "error: cannot write the trace file {} (COURSE_TRACE): {e}",
            path.display()
        );
        std::process::exit(1);
    }
}

/// Adds `schedule`'s spans to the Chrome Trace Event file at `path` (a JSON
/// object with a `traceEvents` array), making it if it is new. Complete
/// events (`ph: "X"`), times in µs; a worker is a `tid` under the lesson's
/// `pid`, named by a metadata event.
fn append_trace(path: &std::path::Path, schedule: &Schedule) -> std::io::Result<()> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut events: Vec<String> = Vec::new();
    if let Some(body) = old
        .trim()
        .strip_prefix("{\"traceEvents\":[")
        .and_then(|rest| rest.strip_suffix("]}"))
    {
        if !body.trim().is_empty() {
            events.push(body.trim().to_string());
        }
    } else if !old.trim().is_empty() {
        return Err(std::io::Error::other(
            "it exists and is not a trace this course wrote",
        ));
    }
    let pid = std::process::id();
    let rows = schedule.rows();
    // Each section's rows get tracks of their own: number them after the
    // tracks the file has already.
    let tracks_before = old.matches("\"ph\":\"M\"").count();
    for (tid, (row, spans)) in rows.iter().enumerate() {
        let tid = tracks_before + tid + 1;
        events.push(format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":{}}}}}",
            json_string(&format!("{}: {row}", schedule.name))
        ));
        for span in spans {
            events.push(format!(
                "{{\"name\":{},\"cat\":{},\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":{pid},\"tid\":{tid}}}",
                json_string(&span.label),
                json_string(&schedule.name),
                span.start_ns as f64 / 1000.0,
                (span.end_ns - span.start_ns) as f64 / 1000.0
            ));
        }
    }
    let mut file = std::fs::File::create(path)?;
    write!(file, "{{\"traceEvents\":[{}]}}", events.join(",\n"))?;
    file.flush()
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn rows_keep_the_order_tasks_started_in_and_fit_the_width() {
        let mut s = Schedule::new("test");
        s.add("worker B", "31", 0, 20 * MS);
        s.add("worker A", "30", 0, 10 * MS);
        s.add("worker A", "32", 10 * MS, 40 * MS);
        s.add("worker B", "20", 20 * MS, 21 * MS);
        let lines = s.render();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].starts_with("worker A |30"), "{lines:#?}");
        assert!(lines[1].starts_with("worker B |31"), "{lines:#?}");
        let a = &lines[0];
        assert!(a.find("|30").unwrap() < a.find("|32").unwrap());
        assert!(
            lines[1].contains("|20"),
            "a label is drawn whole however short its task"
        );
        assert!(
            lines.iter().all(|l| l.chars().count() <= COLUMNS + 8),
            "{lines:#?}"
        );
        assert!(lines[2].trim_start().starts_with("0 ms") && lines[2].ends_with("40 ms"));
    }

    #[test]
    fn the_trace_is_chrome_json_with_one_track_per_row() {
        let dir = std::env::temp_dir().join(format!("course-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.json");
        let mut s = Schedule::new("pools");
        s.add("thread \"0\"", "fib(30)", 1000, 3000);
        append_trace(&path, &s).unwrap();
        append_trace(&path, &s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("{\"traceEvents\":["));
        assert_eq!(text.matches("\"ph\":\"X\"").count(), 2, "{text}");
        assert!(text.contains("\"ts\":1.000,\"dur\":2.000"), "{text}");
        assert!(text.contains("thread \\\"0\\\""), "{text}");
        std::fs::write(&path, "not json").unwrap();
        assert!(append_trace(&path, &s).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
