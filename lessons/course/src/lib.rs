//! The lessons' furniture, kept out of the IPC library: output helpers
//! shared by the lessons: the section banner, the no-arguments
//! rule, and timing.
//!
//! Every lesson prints one `println!` per line (one `write(2)` each, so lines
//! from several processes never tear) and flushes before it forks. Durations
//! are printed with `{:?}` so the golden files can match them with
//! `[ELAPSED]`.

#![warn(missing_docs)]

use std::time::{Duration, Instant};

/// Exits with status 2 and a usage line on stderr if the lesson was given any
/// argument. Lessons take none: what they show is fixed, so the golden file
/// can check it. `name` is the package name, as in `cargo run -p NAME`: pass
/// `env!("CARGO_PKG_NAME")`.
pub fn refuse_arguments(name: &str) {
    let extra: Vec<String> = std::env::args().skip(1).collect();
    if !extra.is_empty() {
        eprintln!(
            "error: this lesson takes no arguments, but got: {}",
            extra.join(" ")
        );
        eprintln!("usage: cargo run -p {name}");
        std::process::exit(2);
    }
}

/// Prints a lesson's title block.
pub fn title(text: &str) {
    println!("{text}");
    println!("{}", "=".repeat(text.chars().count()));
}

/// Prints a section banner: its number, what it shows, and the Python it
/// stands for.
pub fn section(number: u32, what: &str, python: &str) {
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
