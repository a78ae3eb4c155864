//! `cargo xtask compare`: two outputs side by side, or one after the other
//! when the terminal is too narrow for two readable columns.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use harness::runner;
use harness::workspace;

use super::{binary_for, build_or_fail, selected};
use crate::flags::{Args, Outcome};

/// Lays out two titled texts: side by side if `width` allows two columns of
/// at least 78 characters, else one after the other. Side by side, each
/// `## N.` section starts on the same row in both columns, however many
/// lines the other side printed before it.
pub fn render(
    left_title: &str,
    left: &str,
    right_title: &str,
    right: &str,
    width: usize,
) -> String {
    let column = (width.saturating_sub(3)) / 2;
    if column < 78 {
        return format!("--- {left_title}\n{left}\n--- {right_title}\n{right}\n");
    }
    let (left_sections, right_sections) = (sections(left), sections(right));
    let mut keys: Vec<Option<u32>> = left_sections
        .iter()
        .chain(&right_sections)
        .map(|(key, _)| *key)
        .collect();
    keys.sort();
    keys.dedup();
    let mut out = format!("{} | {}\n", fit(left_title, column), right_title);
    for key in keys {
        let (l, r) = (
            lines_of(&left_sections, key),
            lines_of(&right_sections, key),
        );
        for i in 0..l.len().max(r.len()) {
            let left_line = l.get(i).copied().unwrap_or("");
            let right_line = r.get(i).copied().unwrap_or("");
            out += &format!(
                "{} | {}\n",
                fit(left_line, column),
                fit(right_line, column).trim_end()
            );
        }
    }
    out
}

fn lines_of<'a>(all: &[(Option<u32>, Vec<&'a str>)], key: Option<u32>) -> Vec<&'a str> {
    all.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, lines)| lines.clone())
        .unwrap_or_default()
}

/// Splits an output at its `## N.` section headers: the lines before the
/// first (key `None`), then each section's lines under its number.
fn sections(text: &str) -> Vec<(Option<u32>, Vec<&str>)> {
    let mut out: Vec<(Option<u32>, Vec<&str>)> = vec![(None, Vec::new())];
    for line in text.lines() {
        let number = line
            .strip_prefix("## ")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(n, _)| n.parse().ok());
        if number.is_some() {
            out.push((number, Vec::new()));
        }
        out.last_mut().expect("never empty").1.push(line);
    }
    out
}

/// `text` cut or padded to exactly `width` characters.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        format!("{text}{}", " ".repeat(width - count))
    }
}

pub fn cmd_compare(args: Args) -> Outcome {
    let lessons = selected(&args.names)?;
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("error: python3 was not found. compare runs each lesson's Python twin with it:");
        eprintln!(
            "install Python 3.8 or later (on Debian or Ubuntu: sudo apt-get install python3)."
        );
        return Ok(ExitCode::FAILURE);
    }
    let binaries = match build_or_fail(&lessons) {
        Ok(b) => b,
        Err(code) => return Ok(code),
    };
    let width = terminal_width();
    for lesson in &lessons {
        let script = lesson.dir.join("python").join("lesson.py");
        if !script.exists() {
            eprintln!(
                "error: lesson {} has no Python twin at {}",
                lesson.name,
                script.display()
            );
            return Ok(ExitCode::FAILURE);
        }
        let python = runner::run(
            Path::new("python3"),
            &[script.display().to_string()],
            Duration::from_secs(120),
        );
        let rust = runner::run(
            &binary_for(&binaries, lesson),
            &[],
            Duration::from_secs(120),
        );
        let (python, rust) = match (python, rust) {
            (Ok(p), Ok(r)) => (p, r),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("error: could not run lesson {}: {e}", lesson.name);
                return Ok(ExitCode::FAILURE);
            }
        };
        let left_title = format!(
            "Python: python3 {} ({:.2?}, exit {})",
            workspace::shown(&script),
            python.elapsed,
            python.exit
        );
        let right_title = format!(
            "Rust: cargo run -p {} ({:.2?}, exit {})",
            lesson.package, rust.elapsed, rust.exit
        );
        let left = with_stderr(&python);
        let right = with_stderr(&rust);
        println!();
        println!(">>> {}: {}", lesson.name, lesson.title);
        print!(
            "{}",
            render(&left_title, &left, &right_title, &right, width)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn with_stderr(run: &runner::Run) -> String {
    if run.stderr.trim().is_empty() {
        run.stdout.clone()
    } else {
        format!("{}[stderr]\n{}", run.stdout, run.stderr)
    }
}

/// The terminal's width in columns: `$COLUMNS`, else the tty's, else 80.
fn terminal_width() -> usize {
    if let Some(columns) = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()) {
        return columns;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // Safety: TIOCGWINSZ writes a winsize into `size`, a valid local.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    if ok && size.ws_col > 0 {
        size.ws_col as usize
    } else {
        80
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_get_one_after_the_other() {
        let out = render("Python", "a\nb", "Rust", "c", 100);
        assert_eq!(out, "--- Python\na\nb\n--- Rust\nc\n");
    }

    #[test]
    fn wide_terminals_get_two_columns_of_equal_width() {
        let out = render("Python", "a\nb", "Rust", "c", 200);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("Python ") && lines[0].ends_with(" | Rust"));
        assert_eq!(lines[1].find(" | "), lines[2].find(" | "));
        assert!(lines[2].ends_with(" | "));
    }

    #[test]
    fn side_by_side_each_section_starts_on_the_same_row() {
        let python = "title\n## 1. one\np1\n## 2. two\np2";
        let rust = "title\nextra\n## 1. one\nr1\nr1b\nr1c\n## 2. two\nr2";
        let out = render("Python", python, "Rust", rust, 200);
        let row_of = |needle: &str| out.lines().position(|l| l.contains(needle)).unwrap();
        for header in ["## 1. one", "## 2. two"] {
            let row = out.lines().nth(row_of(header)).unwrap();
            assert_eq!(row.matches(header).count(), 2, "{out}");
        }
        assert!(out.contains("p2"));
        assert!(out.contains("r1c"));
    }

    #[test]
    fn long_lines_are_cut_with_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ab", 4), "ab  ");
        assert_eq!(fit("µµ", 2), "µµ");
    }
}
