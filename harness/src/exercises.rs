//! The exercises' catalogue: each [`Exercise`], read from the folders of
//! `exercises/` (the source, its golden and hint, the reference solution,
//! perhaps a racy fixture). The grader (`cargo xtask check`), the code
//! generator and the course's own tests all read it here.

use std::path::{Path, PathBuf};

use crate::workspace::{self, shown};

/// One exercise: `exercises/NN-lesson/K-name/main.rs`, its golden and hint
/// beside it, its reference solution under `exercises/solutions/`, and
/// perhaps a wrong fix under `exercises/racy/` that the stress runs catch.
#[derive(Clone, Debug)]
pub struct Exercise {
    /// `02.1`: the lesson's number, a dot, the exercise's number.
    pub id: String,
    /// `flush-before-fork`: the folder's name without its number.
    pub name: String,
    /// The rest of the source's first line, after `Exercise 02.1: `.
    pub title: String,
    /// `02-fork`: the lesson folder it belongs to.
    pub lesson: String,
    /// The exercise's folder.
    pub dir: PathBuf,
    /// The reference solution.
    pub solution: PathBuf,
    /// The wrong fix kept as a test of the grader, if there is one.
    pub racy: Option<PathBuf>,
    /// The lesson sections it practises, from its header's `Lesson NN,
    /// section K` line.
    pub sections: Vec<u32>,
    /// Learners' answers kept as tests of the grader:
    /// `exercises/answers/NN-lesson/K-name/{right,wrong}-STYLE.rs`.
    pub answers: Vec<Answer>,
}

/// A learner's answer to an exercise, kept to test the grader: a right
/// one (in another style than the reference) must pass `check`, a wrong
/// one must not.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The file.
    pub path: PathBuf,
    /// `right-` or `wrong-` in its name.
    pub right: bool,
    /// The rest of its name: `sleep-two-seconds`.
    pub style: String,
}

/// Which program of an exercise to build and grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The learner's file, `main.rs` in the exercise's folder.
    Exercise,
    /// The reference solution.
    Solution,
    /// The wrong fix that only the stress runs catch.
    Racy,
    /// One of the exercise's [`Answer`]s, by index.
    Answer(usize),
}

impl Exercise {
    /// The learner's file.
    pub fn source(&self) -> PathBuf {
        self.dir.join("main.rs")
    }

    /// The file of `kind`.
    pub fn file(&self, kind: Kind) -> Option<PathBuf> {
        match kind {
            Kind::Exercise => Some(self.source()),
            Kind::Solution => Some(self.solution.clone()),
            Kind::Racy => self.racy.clone(),
            Kind::Answer(i) => self.answers.get(i).map(|a| a.path.clone()),
        }
    }

    /// The binary's name in `exercises/Cargo.toml`: `ex-02-1`,
    /// `solution-02-1`, `racy-02-1`.
    pub fn binary(&self, kind: Kind) -> String {
        let prefix = match kind {
            Kind::Exercise => "ex",
            Kind::Solution => "solution",
            Kind::Racy => "racy",
            Kind::Answer(i) => {
                let answer = &self.answers[i];
                let verdict = if answer.right { "right" } else { "wrong" };
                return format!(
                    "answer-{}-{verdict}-{}",
                    self.id.replace('.', "-"),
                    answer.style
                );
            }
        };
        format!("{prefix}-{}", self.id.replace('.', "-"))
    }

    /// True if `query` names this exercise: `02.1`, `2.1`, its name
    /// (`flush-before-fork`) or its folder (`02-fork/1-flush-before-fork`).
    pub fn is_named(&self, query: &str) -> bool {
        let query = query.trim_end_matches('/');
        let short_id = self.id.trim_start_matches('0');
        query == self.id || query == short_id || query == self.name || self.dir.ends_with(query)
    }

    /// The hint: `hint.md` up to its first `## ` heading.
    pub fn hint(&self) -> String {
        let text = self.hint_file();
        let end = text.find("\n## ").unwrap_or(text.len());
        text[..end].trim().to_string()
    }

    /// A section of `hint.md` (`When it hangs`, `When it races`), if any.
    pub fn hint_section(&self, heading: &str) -> Option<String> {
        let text = self.hint_file();
        let start = text.find(&format!("## {heading}\n"))? + heading.len() + 4;
        let rest = &text[start..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        Some(rest[..end].trim().to_string())
    }

    fn hint_file(&self) -> String {
        std::fs::read_to_string(self.dir.join("hint.md")).unwrap_or_default()
    }
}

/// `exercises/` in the repository.
pub fn folder() -> PathBuf {
    workspace::root().join("exercises")
}

/// Every exercise, in course order (lesson, then number).
///
/// # Errors
/// A message if `exercises/` cannot be read, or an exercise folder lacks
/// its source, golden, hint or solution.
pub fn all() -> Result<Vec<Exercise>, String> {
    let root = folder();
    let mut exercises = Vec::new();
    for lesson in sorted_dirs(&root)? {
        let lesson_name = file_name(&lesson);
        let Some(number) = leading_number(&lesson_name) else {
            continue; // solutions/, racy/, target/
        };
        for dir in sorted_dirs(&lesson)? {
            let folder_name = file_name(&dir);
            let Some(k) = leading_number(&folder_name) else {
                continue;
            };
            let id = format!("{number:02}.{k}");
            let name = folder_name[folder_name.find('-').map_or(0, |i| i + 1)..].to_string();
            let source = dir.join("main.rs");
            let text = std::fs::read_to_string(&source)
                .map_err(|e| format!("cannot read {}: {e}", shown(&source)))?;
            let prefix = format!("//! Exercise {id}: ");
            let title = header_title(&text, &prefix).ok_or_else(|| {
                format!(
                    "{} must start with `{prefix}<title>` (after any `#![...]` attributes)",
                    shown(&source)
                )
            })?;
            for needed in ["golden.stdout", "hint.md"] {
                if !dir.join(needed).is_file() {
                    return Err(format!("{} has no {needed}", shown(&dir)));
                }
            }
            let in_tree = |tree: &str| {
                root.join(tree)
                    .join(&lesson_name)
                    .join(format!("{folder_name}.rs"))
            };
            let solution = in_tree("solutions");
            if !solution.is_file() {
                return Err(format!(
                    "{} has no solution at {}",
                    shown(&dir),
                    shown(&solution)
                ));
            }
            let racy = Some(in_tree("racy")).filter(|p| p.is_file());
            let answers = answers_in(&root.join("answers").join(&lesson_name).join(&folder_name))?;
            let sections = sections_named(&text).ok_or_else(|| {
                format!(
                    "{} needs a `//! Lesson NN, section K (...)` line after its title",
                    shown(&source)
                )
            })?;
            exercises.push(Exercise {
                id,
                name,
                title,
                lesson: lesson_name.clone(),
                dir,
                solution,
                racy,
                sections,
                answers,
            });
        }
    }
    Ok(exercises)
}

/// The sections a header's `//! Lesson 03, sections 1, 2 and 4 (...)`
/// line names: `[1, 2, 4]`.
pub fn sections_named(text: &str) -> Option<Vec<u32>> {
    let line = text.lines().find(|l| l.starts_with("//! Lesson "))?;
    let (_, after) = line.split_once(", section")?;
    // The list ends where its parenthesis (the sections' titles) begins.
    let list = after.split(['(', '.']).next().unwrap_or_default();
    let sections: Vec<u32> = list
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect();
    (!sections.is_empty()).then_some(sections)
}

/// The answers kept in `dir` (none if there is no such folder), by name.
fn answers_in(dir: &Path) -> Result<Vec<Answer>, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut answers = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let stem = file_name(&path);
        let Some(stem) = stem.strip_suffix(".rs") else {
            continue;
        };
        let (right, style) = match stem.split_once('-') {
            Some(("right", style)) => (true, style),
            Some(("wrong", style)) => (false, style),
            _ => {
                return Err(format!(
                    "{}: an answer's name starts with `right-` or `wrong-`",
                    shown(&path)
                ));
            }
        };
        answers.push(Answer {
            style: style.to_string(),
            right,
            path,
        });
    }
    answers.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(answers)
}

/// The title in an exercise's header line (`//! Exercise 02.1: <title>`),
/// looked for where Rust allows it: among the file's leading inner
/// attributes (`#![allow(...)]`, on one line or several), blank lines and
/// `//!` doc comments, in any order.
pub fn header_title(text: &str, prefix: &str) -> Option<String> {
    let mut open_brackets = 0usize;
    for line in text.lines() {
        let trimmed = line.trim();
        if open_brackets > 0 || trimmed.starts_with("#![") {
            open_brackets += trimmed.matches('[').count();
            open_brackets = open_brackets.saturating_sub(trimmed.matches(']').count());
            continue;
        }
        if let Some(title) = trimmed.strip_prefix(prefix) {
            return Some(title.to_string());
        }
        if !(trimmed.is_empty() || trimmed.starts_with("//!")) {
            return None;
        }
    }
    None
}

/// Picks the exercise `query` names.
///
/// # Errors
/// A message listing the exercises if none matches.
pub fn find<'a>(all: &'a [Exercise], query: &str) -> Result<&'a Exercise, String> {
    all.iter().find(|e| e.is_named(query)).ok_or_else(|| {
        let known: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        format!(
            "no exercise named `{query}`; the exercises are: {} (or their names, see `cargo xtask progress`)",
            known.join(", ")
        )
    })
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", shown(dir)))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `02` in `02-fork`, `1` in `1-flush-before-fork`.
fn leading_number(name: &str) -> Option<u32> {
    let (number, rest) = name.split_once('-')?;
    (!rest.is_empty()).then_some(())?;
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::header_title;

    #[test]
    fn the_header_is_found_after_inner_attributes_and_doc_lines() {
        let prefix = "//! Exercise 02.2: ";
        let plain = "//! Exercise 02.2: reap the child\nfn main() {}";
        assert_eq!(
            header_title(plain, prefix).as_deref(),
            Some("reap the child")
        );
        let after_attribute = "#![allow(unused)]\n//! Exercise 02.2: reap the child\n";
        assert_eq!(
            header_title(after_attribute, prefix).as_deref(),
            Some("reap the child")
        );
        let multi_line = "#![allow(\n    unused,\n)]\n\n//! Exercise 02.2: t\n";
        assert_eq!(header_title(multi_line, prefix).as_deref(), Some("t"));
        let doc_first = "//! My notes\n//! Exercise 02.2: t\n";
        assert_eq!(header_title(doc_first, prefix).as_deref(), Some("t"));
        // After code it is not a header any more.
        assert_eq!(
            header_title("use std::io;\n//! Exercise 02.2: t\n", prefix),
            None
        );
        assert_eq!(header_title("//! Exercise 02.1: t\n", prefix), None);
    }

    #[test]
    fn the_sections_an_exercise_practises_are_read_from_its_header() {
        use super::sections_named;
        let one = "//! Exercise 01.3: t\n//!\n//! Lesson 01, section 2 (\"A 300ms wait, fib(30)\n";
        assert_eq!(sections_named(one), Some(vec![2]));
        let three = "//! Lesson 03, sections 1, 2 and 4 (`apply_async`; `imap`).\n";
        assert_eq!(sections_named(three), Some(vec![1, 2, 4]));
        assert_eq!(sections_named("//! Lesson 02 in general\n"), None);
    }
}
