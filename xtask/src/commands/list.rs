//! `cargo xtask list`: the lessons, with what each teaches.

use std::process::ExitCode;

use harness::workspace;

use crate::flags::{Args, Outcome, Usage};

pub fn cmd_list(_: Args) -> Outcome {
    let lessons = workspace::lessons().map_err(Usage)?;
    for lesson in &lessons {
        println!("{}", lesson.name);
        for (label, text) in [
            ("", lesson.title.as_str()),
            ("Python: ", lesson.python.as_str()),
        ] {
            for line in wrapped(&format!("{label}{text}"), 96) {
                println!("    {line}");
            }
        }
        println!("    cargo run -p {}", lesson.package);
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` broken at spaces into lines of at most `width` characters.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
