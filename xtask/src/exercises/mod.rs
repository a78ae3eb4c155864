//! The exercises: where they are ([`Exercise`], read from the folders of
//! `exercises/`), how they are graded ([`grade`], under the conditions of
//! [`stress`]), and what the learner has solved ([`progress`]).

pub mod grade;
pub mod progress;
pub mod stress;

use std::path::{Path, PathBuf};

use harness::workspace;

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
        }
    }

    /// The binary's name in `exercises/Cargo.toml`: `ex-02-1`,
    /// `solution-02-1`, `racy-02-1`.
    pub fn binary(&self, kind: Kind) -> String {
        let prefix = match kind {
            Kind::Exercise => "ex",
            Kind::Solution => "solution",
            Kind::Racy => "racy",
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

pub use harness::workspace::shown;

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
            let title = text
                .lines()
                .next()
                .and_then(|line| line.strip_prefix(&prefix))
                .ok_or_else(|| format!("{} must start with `{prefix}<title>`", shown(&source)))?
                .to_string();
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
            exercises.push(Exercise {
                id,
                name,
                title,
                lesson: lesson_name.clone(),
                dir,
                solution,
                racy,
            });
        }
    }
    Ok(exercises)
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
    use super::*;

    #[test]
    fn every_exercise_has_its_binaries_in_the_manifest_and_nothing_else_is_there() {
        let exercises = all().unwrap();
        assert!(exercises.len() >= 12, "{} exercises", exercises.len());
        let manifest = std::fs::read_to_string(folder().join("Cargo.toml")).unwrap();
        let mut expected = Vec::new();
        for exercise in &exercises {
            for kind in [Kind::Exercise, Kind::Solution, Kind::Racy] {
                if let Some(file) = exercise.file(kind) {
                    let relative = file.strip_prefix(folder()).unwrap().display().to_string();
                    expected.push(format!(
                        "name = \"{}\"\npath = \"{relative}\"",
                        exercise.binary(kind)
                    ));
                }
            }
        }
        for entry in &expected {
            assert!(
                manifest.contains(entry),
                "exercises/Cargo.toml lacks\n{entry}"
            );
        }
        assert_eq!(manifest.matches("[[bin]]").count(), expected.len());
    }

    #[test]
    fn every_lesson_has_two_exercises_and_three_ship_with_a_race() {
        let exercises = all().unwrap();
        for lesson in ["01", "02", "03", "04", "05", "06"] {
            let count = exercises
                .iter()
                .filter(|e| e.id.starts_with(lesson))
                .count();
            assert!(count >= 2, "lesson {lesson} has {count} exercises");
        }
        let racy_shipped = exercises
            .iter()
            .filter(|e| e.hint_section("When it races").is_some())
            .count();
        assert!(racy_shipped >= 3, "{racy_shipped}");
        let fixtures = exercises.iter().filter(|e| e.racy.is_some()).count();
        assert!(fixtures >= 3, "{fixtures}");
    }

    #[test]
    fn exercises_are_found_by_id_short_id_name_and_folder() {
        let exercises = all().unwrap();
        for query in [
            "02.1",
            "2.1",
            "flush-before-fork",
            "02-fork/1-flush-before-fork",
        ] {
            assert_eq!(find(&exercises, query).unwrap().id, "02.1", "{query}");
        }
        let error = find(&exercises, "9.9").unwrap_err();
        assert!(error.contains("01.1"), "{error}");
    }

    #[test]
    fn the_readme_and_each_lesson_readme_list_its_exercises() {
        let root = workspace::root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for exercise in all().unwrap() {
            let source = shown(&exercise.source());
            assert!(readme.contains(&source), "README.md lacks {source}");
            let lesson = root
                .join("lessons")
                .join(&exercise.lesson)
                .join("README.md");
            let text = std::fs::read_to_string(&lesson).unwrap();
            let check = format!("cargo xtask check {}", exercise.id);
            assert!(text.contains(&check), "{} lacks `{check}`", shown(&lesson));
        }
    }

    #[test]
    fn hints_have_a_body_and_a_section_for_hangs() {
        for exercise in all().unwrap() {
            assert!(exercise.hint().len() > 40, "{}", exercise.id);
            assert!(
                exercise.hint_section("When it hangs").is_some(),
                "{}: hint.md needs a `## When it hangs` section",
                exercise.id
            );
        }
    }
}
