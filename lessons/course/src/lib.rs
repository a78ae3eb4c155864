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

/// What every lesson's `main` does first: refuses arguments, and makes a
/// closed stdout end the lesson quietly.
///
/// Lessons take no arguments: what they show is fixed, so the golden file
/// can check it. Given any, this exits with status 2 and a usage line on
/// stderr. `name` is the package name, as in `cargo run -p NAME`: pass
/// `env!("CARGO_PKG_NAME")`.
///
/// A lesson piped into `head` or `less` that quits early would panic on
/// its next `println!` ("failed printing to stdout: Broken pipe"). Here it
/// ends the way a C program does instead: killed by `SIGPIPE`, which shells
/// do not report. (Rust ignores `SIGPIPE` so that lesson 05 can show
/// `EPIPE` as an error; that stays so.)
pub fn start_lesson(name: &str) {
    let extra: Vec<String> = std::env::args().skip(1).collect();
    if !extra.is_empty() {
        eprintln!(
            "error: this lesson takes no arguments, but got: {}",
            extra.join(" ")
        );
        eprintln!("usage: cargo run -p {name}");
        std::process::exit(2);
    }
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
