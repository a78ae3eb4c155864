//! The lessons' furniture, kept out of the IPC library: output helpers
//! shared by the lessons: the section banner, the no-arguments
//! rule, and timing; and lesson 08's machinery: two hosts on one machine
//! ([`hosts`]), a relay that delays what crosses it ([`relay`]) and a
//! private Redis server ([`redis_server`]); and the text schedules of the
//! concurrent sections ([`schedule`]).
//!
//! Every lesson prints one `println!` per line (one `write(2)` each, so lines
//! from several processes never tear) and flushes before it forks. Durations
//! are printed with `{:?}` so the golden files can match them with
//! `[ELAPSED]`.

#![warn(missing_docs)]

pub mod hosts;
pub mod redis_server;
pub mod relay;
pub mod schedule;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The widest line a lesson prints: what fits a terminal beside the
/// lesson's source, and what the golden test allows.
pub const WIDTH: usize = 100;

/// Prints `label` then `text`, broken at spaces into lines of at most
/// [`WIDTH`] columns; lines after the first are indented by four spaces.
/// For messages the lesson does not write itself (errors from the library
/// or the OS), which can be long.
pub fn print_wrapped(label: &str, text: &str) {
    for line in wrap(&format!("{label}{text}"), WIDTH) {
        println!("{line}");
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let indent = if lines.is_empty() { 0 } else { 4 };
        let wanted = line.chars().count() + 1 + word.chars().count();
        if !line.trim().is_empty() && indent + wanted > width {
            lines.push(std::mem::take(&mut line));
        }
        if line.is_empty() && !lines.is_empty() {
            line.push_str("    ");
        } else if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// Panics with `message`, on purpose: the one-line message and no
/// backtrace, even with `RUST_BACKTRACE=1` set (as many learners have it).
/// A backtrace under a panic the lesson causes on purpose reads like a
/// crash of the lesson; a real bug elsewhere still prints its backtrace.
/// The message points at the caller's line, as `panic!` there would.
///
/// Call it only in a process that may lose its environment variables: a
/// child that is about to end (it removes the two variables that ask for
/// backtraces, in this process only).
#[track_caller]
pub fn panic_on_purpose(message: &str) -> ! {
    for variable in ["RUST_BACKTRACE", "RUST_LIB_BACKTRACE"] {
        // Safety: the lessons call this in a single-threaded child (a fork
        // of a single-threaded parent), so no other thread reads the
        // environment meanwhile.
        unsafe { std::env::remove_var(variable) };
    }
    panic!("{message}")
}

/// What every lesson's `main` does first: refuses arguments, and makes a
/// closed stdout end the lesson quietly.
///
/// Lessons take no arguments: what they show is fixed, so the golden file
/// can check it. Given any, this exits with status 2 and a usage line on
/// stderr; `--help` (or `-h`) alone says what the lesson is and where its
/// README is, and exits 0. `name` is the package name, as in `cargo run -p NAME`: pass
/// `env!("CARGO_PKG_NAME")`.
///
/// A lesson piped into `head` or `less` that quits early would panic on
/// its next `println!` ("failed printing to stdout: Broken pipe"). Here it
/// ends the way a C program does instead: killed by `SIGPIPE`, which shells
/// do not report. (Rust ignores `SIGPIPE` so that lesson 05 can show
/// `EPIPE` as an error; that stays so.)
pub fn start_lesson(name: &str) {
    let extra: Vec<String> = std::env::args().skip(1).collect();
    if extra == ["--help"] || extra == ["-h"] {
        // `lesson-05-pipe` lives in `lessons/05-pipe`.
        let folder = name.strip_prefix("lesson-").unwrap_or(name);
        println!("{name}: a lesson of \"Processes vs threads\". It takes no arguments:");
        println!("  cargo run -p {name}");
        println!(
            "Read its output beside lessons/{folder}/README.md and lessons/{folder}/src/main.rs;"
        );
        println!("then practise it: cargo xtask check (cargo xtask progress lists the exercises).");
        std::process::exit(0);
    }
    if !extra.is_empty() {
        eprintln!(
            "error: this lesson takes no arguments, but got: {}",
            extra.join(" ")
        );
        eprintln!("usage: cargo run -p {name}");
        std::process::exit(2);
    }
    schedule::start_trace();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") {
            die_of_sigpipe();
        }
        // A child whose lesson was stopped (by `kill`, say) fails at its next
        // request to what the lesson owned. Its backtrace tells nothing, and
        // with RUST_BACKTRACE set, resolving one in a debug build takes a
        // fifth of a second of CPU per child: the orphans would outlive the
        // lesson by that much, longer on a busy machine.
        if multiproc::parent_process().is_some_and(|parent| !parent.is_alive()) {
            let place = info
                .location()
                .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
            eprintln!(
                "child pid={} panicked{place}: {message} (its parent is gone: no backtrace)",
                std::process::id()
            );
            return;
        }
        default_hook(info);
    }));
}

/// Ends this process as `SIGPIPE` would have, had Rust not ignored it.
fn die_of_sigpipe() -> ! {
    // Safety: restores the default action for SIGPIPE (no handler code) and
    // sends it to this process; `_exit` takes an integer and never returns.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Safety: raise sends a signal to this thread.
    unsafe {
        libc::raise(libc::SIGPIPE);
    }
    // Safety: as above; reached only if the signal did not end us.
    unsafe { libc::_exit(128 + libc::SIGPIPE) }
}

/// Prints a lesson's title block.
pub fn title(text: &str) {
    println!("{text}");
    println!("{}", "=".repeat(text.chars().count()));
}

/// Prints the next section's banner: its number (1 for a lesson's first
/// call, then 2, 3, ...: code cannot skip or repeat one, and verify then
/// catches a golden or README that disagrees), what it shows, and the
/// Python it stands for.
pub fn section(what: &str, python: &str) {
    static SECTIONS: AtomicU32 = AtomicU32::new(0);
    let number = SECTIONS.fetch_add(1, Ordering::Relaxed) + 1;
    println!();
    println!("## {number}. {what}");
    println!("   Python: {python}");
}

/// Runs `f` and returns its value with the wall-clock time it took.
pub fn timed<R>(f: impl FnOnce() -> R) -> (R, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// `part / whole` as a ratio, for speedups printed as `1.52x`.
pub fn ratio(whole: Duration, part: Duration) -> f64 {
    whole.as_secs_f64() / part.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Nanoseconds on `CLOCK_MONOTONIC`, the clock `Instant` reads. It is one
/// clock for every process on the machine, so times taken in different
/// processes compare, where an `Instant` cannot leave its process.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // Safety: clock_gettime writes one timespec into `now`, a valid local.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_keeps_every_word_and_every_line_within_the_width() {
        let text = "refusing to fork: this process has 3 threads. A forked child gets a copy of \
                    the calling thread only, and a lock another thread holds stays locked.";
        let lines = wrap(text, 40);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with("    ")));
        let words: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
        assert_eq!(wrap("short", 40), ["short"]);
    }
}
